"""Deduplicate a drop: exact (content hash, all history), then near (MinHash LSH
against accepted history). Semantic duplicates are marked later, once vectors
exist (:mod:`anchormix.stages.semantic`)."""

from __future__ import annotations

import duckdb

from anchormix.dedup.exact import exact_duplicates
from anchormix.dedup.near import NearDedupSettings, find_near_duplicates


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
    rows = []
    for record_id in frame["id"]:
        if record_id in exact:
            rows.append((record_id, drop, "duplicate", exact[record_id], "exact", 1.0))
        elif record_id in near_of:
            original, similarity = near_of[record_id]
            rows.append((record_id, drop, "duplicate", original, "minhash", similarity))
        else:
            rows.append((record_id, drop, "unique", None, None, None))
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM dedup WHERE drop = ?", [drop])
    if rows:
        con.executemany("INSERT INTO dedup VALUES (?, ?, ?, ?, ?, ?)", rows)
    con.execute("COMMIT")
    return {"records": len(rows), "unique": len(rows) - len(exact) - len(near_of),
            "exact": len(exact), "minhash": len(near_of)}
