"""Mark semantic duplicates of a drop against accepted history (SemDeDup-style)."""

from __future__ import annotations

import duckdb

from anchormix.dedup.near import NearDedupSettings
from anchormix.dedup.semantic import priority_rank, semantic_duplicates
from anchormix.embed import EmbeddingSettings
from anchormix.stages.embed import vectors_for


def semantic_drop(con: duckdb.DuckDBPyConnection, drop: str, dedup: NearDedupSettings,
                  embedding: EmbeddingSettings) -> dict:
    """Recompute this drop's semantic duplicates; history records are never marked."""
    con.execute(
        "UPDATE dedup SET status = 'unique', duplicate_of = NULL, method = NULL, similarity = NULL "
        "WHERE drop = ? AND method = 'semantic'",
        [drop],
    )
    if not dedup.semantic_enabled:
        return {"enabled": False, "duplicates": 0}
    frame = con.execute(
        """
        SELECT n.id, n.drop, n.content_hash, coalesce(q.score, 0) AS quality
        FROM normalized n JOIN dedup d USING (id) JOIN raw_records r USING (id)
        LEFT JOIN quality q USING (id)
        WHERE n.drop <= ? AND d.status = 'unique' ORDER BY r.seq
        """,
        [drop],
    ).df()
    if frame.empty:
        return {"enabled": True, "duplicates": 0, "history": 0, "new": 0}
    vectors = vectors_for(con, frame, embedding)
    is_history = (frame["drop"] < drop).to_numpy()
    priority = priority_rank(frame["id"].tolist(), frame["drop"].tolist(), frame["quality"].tolist())
    dups = semantic_duplicates(
        frame["id"].tolist(), vectors, is_history, tau=dedup.semantic_tau,
        n_clusters=dedup.semantic_clusters or None, priority=priority,
    )
    if not dups.empty:
        con.executemany(
            "UPDATE dedup SET status = 'duplicate', duplicate_of = ?, method = 'semantic', similarity = ? "
            "WHERE id = ?",
            [(row.duplicate_of, float(row.similarity), row.id) for row in dups.itertuples()],
        )
    return {"enabled": True, "duplicates": len(dups), "history": int(is_history.sum()),
            "new": int((~is_history).sum()), "tau": dedup.semantic_tau}
