"""Normalize a drop's raw records into the ``normalized`` table."""

from __future__ import annotations

import duckdb

from anchormix.normalize import content_hash, normalize_text


def normalize_drop(con: duckdb.DuckDBPyConnection, drop: str) -> int:
    """(Re)build the normalized rows of ``drop``; returns how many there are."""
    rows = con.execute("SELECT id, text FROM raw_records WHERE drop = ? ORDER BY seq", [drop]).fetchall()
    out = []
    for record_id, text in rows:
        norm = normalize_text(text)
        out.append((record_id, drop, norm, content_hash(norm), len(norm), len(norm.split())))
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM normalized WHERE drop = ?", [drop])
    if out:
        con.executemany("INSERT INTO normalized VALUES (?, ?, ?, ?, ?, ?)", out)
    con.execute("COMMIT")
    return len(out)
