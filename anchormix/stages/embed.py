"""Embed tonight's eligible records, and any earlier eligible record that lacks a vector for this model.

Earlier records were embedded on their own nights, so normally only tonight's
are read; after a model change, history is embedded once, on the first night.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from anchormix.embed import EmbeddingCache, EmbeddingSettings, embed_texts, model_id

# Records that survive exact and near dedup; semantic duplicates keep their vectors
# because the semantic pass is recomputed on every run of a drop.
ELIGIBLE_SQL = """
    SELECT n.id, n.drop, n.norm_text, n.content_hash
    FROM normalized n JOIN dedup d USING (id) JOIN raw_records r USING (id)
    WHERE n.drop <= $drop AND (d.status = 'unique' OR d.method = 'semantic')
      AND (n.drop = $drop OR n.content_hash NOT IN (
          SELECT content_hash FROM embedding_cache WHERE model_id = $model))
    ORDER BY r.seq
"""


def embed_drop(con: duckdb.DuckDBPyConnection, drop: str, settings: EmbeddingSettings) -> dict:
    """Make sure every eligible record through ``drop`` has a vector for this model."""
    EmbeddingCache(con)  # the table the query reads
    frame = con.execute(ELIGIBLE_SQL, {"drop": drop, "model": model_id(settings)}).df()
    result = embed_texts(con, frame["content_hash"].tolist(), frame["norm_text"].tolist(), settings)
    return {
        "records": len(frame),
        "new_in_drop": int((frame["drop"] == drop).sum()),
        "cache_hits": int(result.hits),
        "cache_misses": int(result.misses),
        "docs_per_s": float(result.docs_per_s),
        "model_id": result.model_id,
        "dim": int(result.vectors.shape[1]) if len(result.vectors) else 0,
    }


def vectors_for(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, settings: EmbeddingSettings) -> np.ndarray:
    """Cached vectors for ``frame.content_hash`` in row order; raises if any is missing."""
    mid = model_id(settings)
    cached = EmbeddingCache(con).get(frame["content_hash"].tolist(), mid)
    missing = [h for h in frame["content_hash"] if h not in cached]
    if missing:
        raise RuntimeError(
            f"{len(missing)} records have no vector for model {mid}; materialize `embeddings` for this drop first"
        )
    if frame.empty:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([cached[h] for h in frame["content_hash"]]).astype(np.float32)
