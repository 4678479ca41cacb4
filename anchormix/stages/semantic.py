"""Mark semantic duplicates of a drop against accepted history (SemDeDup-style).

Tonight's vectors are compared with each other (clustered search over tonight
only) and with history through the persisted index of accepted vectors
(:mod:`anchormix.dedup.semantic_index`), so the work follows the drop.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from anchormix.dedup.near import NearDedupSettings
from anchormix.dedup.semantic import _canonical_pairs, candidate_pairs, choose_representatives, priority_rank
from anchormix.dedup.semantic_index import drop_seqs, open_index
from anchormix.dedup.semantic_verify import BandCheck, search_tau, settle_band
from anchormix.embed import EmbeddingSettings, embed_texts, model_id, semantic_tau, teacher_settings
from anchormix.vectors import rows_normalized
from anchormix.stages.embed import vectors_for
from anchormix.store_writes import transaction, update_from

# Index members added since the centroids were trained, as a share of those trained on, before a retrain.
RETRAIN_GROWTH = 1.0

TONIGHT_SQL = """
    SELECT n.id, n.content_hash, r.seq, coalesce(q.score, 0) AS quality
    FROM normalized n JOIN dedup d USING (id) JOIN raw_records r USING (id)
    LEFT JOIN quality q USING (id)
    WHERE n.drop = ? AND d.status = 'unique' ORDER BY r.seq
"""


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
    frame = con.execute(TONIGHT_SQL, [drop]).df()
    if frame.empty:
        return {"enabled": True, "duplicates": 0, "history": 0, "new": 0}
    vectors = vectors_for(con, frame, embedding)

    def history_vectors(hashes: list[str]) -> np.ndarray:
        return vectors_for(con, pd.DataFrame({"content_hash": hashes}), embedding)

    index, stats = open_index(con, drop, model_id(embedding), vectors.shape[1], history_vectors,
                              retrain_growth=RETRAIN_GROWTH)
    m = len(frame)
    tau = semantic_tau(embedding, dedup.semantic_tau)  # a static model records its own
    margin = embedding.verify_margin if embedding.backend == "static" else 0.0
    found_at = search_tau(tau, margin)
    within = candidate_pairs(vectors, found_at, n_clusters=dedup.semantic_clusters or None,
                             nprobe=dedup.semantic_nprobe)
    # The index is a cache: its search keeps only members accepted before tonight.
    rows, seqs, sims = index.range_search(vectors, found_at, dedup.semantic_nprobe)
    hist_seqs = np.unique(seqs)
    hist_ids = dict(con.execute("SELECT seq, id FROM raw_records WHERE seq IN (SELECT unnest(?))",
                                [hist_seqs.tolist()]).fetchall()) if len(hist_seqs) else {}
    position = {int(s): m + k for k, s in enumerate(hist_seqs)}
    pairs = pd.concat([within, _canonical_pairs(rows, np.array([position[int(s)] for s in seqs], dtype=np.int64),
                                                sims)], ignore_index=True)
    check = BandCheck()
    if margin:
        def teacher(positions: np.ndarray) -> np.ndarray:
            return _teacher_vectors(con, frame, hist_seqs, positions, embedding)

        pairs, check = settle_band(pairs, tau, margin, dedup.semantic_tau, teacher)
    ids = frame["id"].tolist() + [hist_ids[int(s)] for s in hist_seqs]
    is_history = np.r_[np.zeros(m, bool), np.ones(len(hist_seqs), bool)]
    priority = np.r_[priority_rank(frame["id"].tolist(), [drop] * m, frame["quality"].tolist()),
                     np.zeros(len(hist_seqs), np.int64)]
    dups = choose_representatives(ids, is_history, pairs, priority)
    with transaction(con):
        update_from(con, "dedup", "id", dups.assign(status="duplicate", method="semantic")[
            ["id", "status", "duplicate_of", "method", "similarity"]])
    kept = ~frame["id"].isin(dups["id"]).to_numpy()
    index.set_drop(drop, frame["seq"].to_numpy(np.int64)[kept], vectors[kept], drop_seqs(con, [drop]))
    index.save()
    return {"enabled": True, "duplicates": len(dups), "history": stats.history, "new": m,
            "tau": tau, "index_size": index.size, "index_clusters": index.clusters,
            "index_rebuilt": stats.rebuilt or "", "index_added_from_history": stats.added, **check.as_dict()}


def _teacher_vectors(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, hist_seqs: np.ndarray,
                     positions: np.ndarray, embedding: EmbeddingSettings) -> np.ndarray:
    """Unit teacher vectors of tonight's rows (positions below ``len(frame)``) and history records (after)."""
    m = len(frame)
    seqs = [int(frame["seq"].iloc[p]) if p < m else int(hist_seqs[p - m]) for p in positions.tolist()]
    rows = con.execute(
        "SELECT r.seq, n.content_hash, n.norm_text FROM raw_records r JOIN normalized n USING (id) "
        "WHERE r.seq IN (SELECT unnest(?))", [seqs]).fetchall()
    by_seq = {int(seq): (h, text) for seq, h, text in rows}
    hashes = [by_seq[s][0] for s in seqs]
    texts = [by_seq[s][1] for s in seqs]
    return rows_normalized(embed_texts(con, hashes, texts, teacher_settings(embedding)).vectors, np.float32)
