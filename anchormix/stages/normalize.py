"""Normalize a drop's raw records into the ``normalized`` table (a per-record transform)."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from anchormix.normalize import content_hash, normalize_text
from anchormix.engine import Engine, run_transform
from anchormix.stages.record_batches import RecordTransform

SCHEMA = pa.schema([("id", pa.string()), ("norm_text", pa.string()), ("content_hash", pa.string()),
                    ("n_chars", pa.int32()), ("n_words", pa.int32())])


def normalize_batch(batch: pa.RecordBatch, settings=None) -> pa.RecordBatch:
    """``(id, text)`` rows -> normalized text, its content hash, characters and words."""
    norms = [normalize_text(text) for text in batch.column("text").to_pylist()]
    return pa.RecordBatch.from_arrays(
        [batch.column("id"), pa.array(norms, pa.string()), pa.array([content_hash(n) for n in norms], pa.string()),
         pa.array([len(n) for n in norms], pa.int32()), pa.array([len(n.split()) for n in norms], pa.int32())],
        schema=SCHEMA)


NORMALIZE = RecordTransform("normalize", "SELECT id, text FROM raw_records WHERE drop = ? ORDER BY seq",
                            "normalized", SCHEMA, normalize_batch)


def normalize_drop(con: duckdb.DuckDBPyConnection, drop: str, engine: Engine | None = None) -> int:
    """(Re)build the normalized rows of ``drop`` on ``engine`` (None: in this process); returns how many there are."""
    return run_transform(con, NORMALIZE, drop, engine=engine).num_rows
