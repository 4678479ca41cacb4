"""Exact duplicates by content hash, across all history.

The first record (in ingest order) with a given hash is the original; every
later one is a duplicate that points to it, whichever drop it arrived in.
"""

from __future__ import annotations

import duckdb


def exact_duplicates(con: duckdb.DuckDBPyConnection, drop: str) -> list[tuple[str, str]]:
    """``(id, duplicate_of)`` for records of ``drop`` whose hash was seen earlier."""
    return con.execute(
        """
        WITH ranked AS (
            SELECT n.id, n.drop, n.content_hash,
                   first_value(n.id) OVER (PARTITION BY n.content_hash ORDER BY r.seq) AS original
            FROM normalized n JOIN raw_records r USING (id)
        )
        SELECT id, original FROM ranked WHERE drop = ? AND id <> original ORDER BY id
        """,
        [drop],
    ).fetchall()
