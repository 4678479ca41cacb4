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
from anchormix.dedup.semantic_index import open_index
from anchormix.embed import EmbeddingSettings, model_id, semantic_tau
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

    index, accepted, stats = open_index(con, drop, model_id(embedding), vectors.shape[1], history_vectors,
                                        retrain_growth=RETRAIN_GROWTH)
    m = len(frame)
    tau = semantic_tau(embedding, dedup.semantic_tau)  # a static model records its own
    within = candidate_pairs(vectors, tau, n_clusters=dedup.semantic_clusters or None,
                             nprobe=dedup.semantic_nprobe)
    rows, seqs, sims = index.range_search(vectors, tau, dedup.semantic_nprobe)
    # The index is a cache: only records accepted before tonight count.
    valid = np.isin(seqs, accepted)
    rows, seqs, sims = rows[valid], seqs[valid], sims[valid]
    hist_seqs = np.unique(seqs)
    hist_ids = dict(con.execute("SELECT seq, id FROM raw_records WHERE seq IN (SELECT unnest(?))",
                                [hist_seqs.tolist()]).fetchall()) if len(hist_seqs) else {}
    position = {int(s): m + k for k, s in enumerate(hist_seqs)}
    pairs = pd.concat([within, _canonical_pairs(rows, np.array([position[int(s)] for s in seqs], dtype=np.int64),
                                                sims)], ignore_index=True)
    ids = frame["id"].tolist() + [hist_ids[int(s)] for s in hist_seqs]
    is_history = np.r_[np.zeros(m, bool), np.ones(len(hist_seqs), bool)]
    priority = np.r_[priority_rank(frame["id"].tolist(), [drop] * m, frame["quality"].tolist()),
                     np.zeros(len(hist_seqs), np.int64)]
    dups = choose_representatives(ids, is_history, pairs, priority)
    with transaction(con):
        update_from(con, "dedup", "id", dups.assign(status="duplicate", method="semantic")[
            ["id", "status", "duplicate_of", "method", "similarity"]])
    kept = ~frame["id"].isin(dups["id"]).to_numpy()
    fresh = kept & ~np.isin(frame["seq"].to_numpy(np.int64), index.members())
    index.add(frame["seq"].to_numpy(np.int64)[fresh], vectors[fresh])
    index.save()
    return {"enabled": True, "duplicates": len(dups), "history": int(len(accepted)), "new": m,
            "tau": tau, "index_size": index.size, "index_clusters": index.clusters,
            "index_rebuilt": stats.rebuilt or "", "index_added_from_history": stats.added}
