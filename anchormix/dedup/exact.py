"""Exact duplicates by content hash, across all history.

The first record (in ingest order) with a given hash is the original; every
later one is a duplicate that points to it, whichever drop it arrived in.
Tonight's hashes are joined against history's: only history rows that share a
hash with tonight are ever ranked, so the work follows the drop, not history.
"""

from __future__ import annotations

import duckdb

# Each record of the drop (one ``?``) with its ingest position and the original of its content hash. A record
# is its own original, or an exact duplicate of it. Near dedup signs the originals only
# (anchormix.stages.dedup.SIGNATURES).
ORIGINALS_SQL = """
    WITH tonight AS (
        SELECT n.id, n.content_hash, r.seq FROM normalized n JOIN raw_records r USING (id) WHERE n.drop = ?
    ), first_seen AS (
        SELECT n.content_hash, arg_min(n.id, r.seq) AS original
        FROM normalized n JOIN raw_records r USING (id)
        WHERE n.content_hash IN (SELECT content_hash FROM tonight)
        GROUP BY n.content_hash
    )
    SELECT t.id, t.seq, f.original FROM tonight t JOIN first_seen f USING (content_hash)
"""


def exact_duplicates(con: duckdb.DuckDBPyConnection, drop: str) -> list[tuple[str, str]]:
    """``(id, duplicate_of)`` for records of ``drop`` whose hash was seen earlier (or earlier in the drop)."""
    return con.execute(f"SELECT id, original FROM ({ORIGINALS_SQL}) WHERE id <> original ORDER BY id",
                       [drop]).fetchall()
