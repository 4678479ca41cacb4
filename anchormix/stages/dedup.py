"""Deduplicate a drop: exact (content hash, all history), then near (MinHash LSH
against accepted history). Semantic duplicates are marked later, once vectors
exist (:mod:`anchormix.stages.semantic`)."""

from __future__ import annotations

import duckdb

from anchormix.dedup.exact import exact_duplicates
from anchormix.dedup.near import NearDedupSettings, find_near_duplicates
from anchormix.store_writes import replace_drop_rows


def dedup_drop(con: duckdb.DuckDBPyConnection, drop: str, settings: NearDedupSettings) -> dict:
    """(Re)build the ``dedup`` rows of ``drop``; returns counts by method."""
    exact = dict(exact_duplicates(con, drop))
    frame = con.execute(
        "SELECT n.id, n.norm_text, n.content_hash FROM normalized n JOIN raw_records r USING (id) "
        "WHERE n.drop = ? ORDER BY r.seq",
        [drop],
    ).df()
    candidates = frame[~frame["id"].isin(list(exact))]
    near = find_near_duplicates(con, candidates, settings)
    near_of = {row.id: (row.duplicate_of, float(row.similarity)) for row in near.itertuples()}
    ids = frame["id"].tolist()
    found = {**{i: (o, "exact", 1.0) for i, o in exact.items()}, **{i: (o, "minhash", sim) for i, (o, sim) in near_of.items()}}
    decided = [found.get(i) for i in ids]
    out = {"id": ids, "drop": [drop] * len(ids),
           "status": ["unique" if d is None else "duplicate" for d in decided],
           "duplicate_of": [None if d is None else d[0] for d in decided],
           "method": [None if d is None else d[1] for d in decided],
           "similarity": [None if d is None else float(d[2]) for d in decided]}
    n = replace_drop_rows(con, "dedup", drop, out)
    return {"records": n, "unique": n - len(exact) - len(near_of), "exact": len(exact), "minhash": len(near_of)}
