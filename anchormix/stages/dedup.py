"""Deduplicate a drop: exact (content hash, all history), then near (MinHash LSH
against accepted history). Semantic duplicates are marked later, once vectors
exist (:mod:`anchormix.stages.semantic`).

Near dedup has a per-record part and a global one. Signing (:data:`SIGNATURES`)
is a pure transform of each record the drop may accept, so the engine runs it:
in this process, or on Ray workers. Deciding stays on the driver: tonight's LSH
band keys joined with the stored ones in DuckDB, the Jaccard checks in priority
order, and the accepted signatures stored (:func:`anchormix.dedup.near.decide_near_duplicates`).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from anchormix.dedup.exact import ORIGINALS_SQL, exact_duplicates
from anchormix.dedup.near import TABLE, NearDedupSettings, decide_near_duplicates, prepare, signature_matrix
from anchormix.engine import Engine, run_transform
from anchormix.stages.record_batches import RecordTransform
from anchormix.store_writes import replace_drop_rows

SIGNATURE_SCHEMA = pa.schema([("id", pa.string()), ("content_hash", pa.string()),
                              ("hashvalues", pa.list_(pa.uint64()))])


def signature_batch(batch: pa.RecordBatch, settings: NearDedupSettings) -> pa.RecordBatch:
    """``(id, norm_text, content_hash)`` rows -> their MinHash signatures (NULL for a text without words)."""
    matrix, has_words = signature_matrix(batch.column("norm_text").to_pylist(), settings)
    n, k = matrix.shape
    offsets = pa.array(np.arange(0, (n + 1) * k, k, dtype=np.int32))
    hashvalues = pa.ListArray.from_arrays(offsets, pa.array(matrix.reshape(-1), pa.uint64()),
                                          mask=pa.array(~has_words))
    return pa.RecordBatch.from_arrays([batch.column("id"), batch.column("content_hash"), hashvalues],
                                      schema=SIGNATURE_SCHEMA)


# The records near dedup decides tonight, in priority (ingest) order: the originals of their content hash (exact
# duplicates are decided already) not accepted on an earlier run of the drop. Their signatures go back to the
# driver; only the accepted ones are stored, in minhash_signatures (made by anchormix.dedup.near.prepare).
SIGNATURES = RecordTransform(
    "minhash_signatures",
    f"SELECT o.id, n.norm_text, n.content_hash FROM ({ORIGINALS_SQL}) o JOIN normalized n USING (id) "
    f"WHERE o.id = o.original AND o.id NOT IN (SELECT id FROM {TABLE}) ORDER BY o.seq",
    None, SIGNATURE_SCHEMA, signature_batch)


def near_duplicates(con: duckdb.DuckDBPyConnection, drop: str, settings: NearDedupSettings,
                    engine: Engine | None = None) -> dict[str, tuple[str, float]]:
    """Sign tonight's candidates on ``engine`` and decide them on the driver: ``{id: (duplicate_of, similarity)}``."""
    prepare(con, settings)
    signed = run_transform(con, SIGNATURES, drop, settings, engine)
    signed = signed.filter(signed.column("hashvalues").is_valid())
    if signed.num_rows == 0:
        return {}
    values = signed.column("hashvalues").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    matrix = values.astype(np.uint64, copy=False).reshape(signed.num_rows, settings.num_perm)
    near = decide_near_duplicates(con, signed.column("id").to_pylist(), signed.column("content_hash").to_pylist(),
                                  matrix, settings)
    return {row.id: (row.duplicate_of, float(row.similarity)) for row in near.itertuples()}


def dedup_drop(con: duckdb.DuckDBPyConnection, drop: str, settings: NearDedupSettings,
               engine: Engine | None = None) -> dict:
    """(Re)build the ``dedup`` rows of ``drop``, signing on ``engine`` (None: in this process); returns counts by
    method."""
    exact = dict(exact_duplicates(con, drop))
    near_of = near_duplicates(con, drop, settings, engine)
    ids = [row[0] for row in con.execute(
        "SELECT n.id FROM normalized n JOIN raw_records r USING (id) WHERE n.drop = ? ORDER BY r.seq",
        [drop]).fetchall()]
    found = {**{i: (o, "exact", 1.0) for i, o in exact.items()}, **{i: (o, "minhash", sim) for i, (o, sim) in near_of.items()}}
    decided = [found.get(i) for i in ids]
    out = {"id": ids, "drop": [drop] * len(ids),
           "status": ["unique" if d is None else "duplicate" for d in decided],
           "duplicate_of": [None if d is None else d[0] for d in decided],
           "method": [None if d is None else d[1] for d in decided],
           "similarity": [None if d is None else float(d[2]) for d in decided]}
    n = replace_drop_rows(con, "dedup", drop, out)
    return {"records": n, "unique": n - len(exact) - len(near_of), "exact": len(exact), "minhash": len(near_of)}
