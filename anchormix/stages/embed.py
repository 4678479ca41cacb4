"""Embed tonight's eligible records, and any earlier eligible record that lacks a vector for this model.

Earlier records were embedded on their own nights, so normally only tonight's
are read; after a model change, history is embedded once, on the first night.

On the local engine the model encodes the cache misses in this process. On Ray
(``[engine] kind = "ray"``) the misses are the per-record transform
:data:`EMBED`, run on an actor pool (one model load per actor, a GPU each when
the cluster has them); the driver stores the vectors in the cache as the local
path does.
"""

from __future__ import annotations

import time

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from anchormix.embed import EmbeddingCache, EmbeddingSettings, embed_texts, encode, load_model, model_id
from anchormix.stages.record_batches import RecordTransform

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


VECTOR_SCHEMA = pa.schema([("content_hash", pa.string()), ("vector", pa.list_(pa.float32()))])


def embed_batch(batch: pa.RecordBatch, settings: EmbeddingSettings) -> pa.RecordBatch:
    """``(content_hash, norm_text)`` rows -> each text's vector (the model is loaded once per process)."""
    vectors = encode(load_model(settings), batch.column("norm_text").to_pylist(), settings)
    n, d = vectors.shape
    offsets = pa.array(np.arange(0, (n + 1) * d, d, dtype=np.int32))
    column = pa.ListArray.from_arrays(offsets, pa.array(np.ascontiguousarray(vectors, np.float32).reshape(-1)))
    return pa.RecordBatch.from_arrays([batch.column("content_hash"), column], schema=VECTOR_SCHEMA)


def on_gpu(settings: EmbeddingSettings) -> EmbeddingSettings | None:
    """The settings of an actor holding a GPU: MiniLM on ``cuda``; None for the static model and int8 (CPU only)."""
    if settings.backend == "static" or settings.quantize or settings.device == "mps":
        return None
    return settings if settings.device.startswith("cuda") else settings.model_copy(update={"device": "cuda"})


# Tonight's cache misses, each content hash once (its first record in ingest order), as embed_texts encodes them:
# the eligible records through the drop ($1) without a vector for the model ($2).
MISSES_SQL = """
    SELECT n.content_hash, n.norm_text
    FROM normalized n JOIN dedup d USING (id) JOIN raw_records r USING (id)
    WHERE n.drop <= $1 AND (d.status = 'unique' OR d.method = 'semantic')
      AND n.content_hash NOT IN (SELECT content_hash FROM embedding_cache WHERE model_id = $2)
    QUALIFY row_number() OVER (PARTITION BY n.content_hash ORDER BY r.seq) = 1
    ORDER BY r.seq
"""


def _model_param(settings: EmbeddingSettings) -> list[str]:
    return [model_id(settings)]


EMBED = RecordTransform("embeddings", MISSES_SQL, None, VECTOR_SCHEMA, embed_batch,
                        params=_model_param, load=load_model, on_gpu=on_gpu)


def embed_drop(con: duckdb.DuckDBPyConnection, drop: str, settings: EmbeddingSettings, engine=None) -> dict:
    """Make sure every eligible record through ``drop`` has a vector for this model.

    ``engine``: None or the local engine encodes in this process; Ray encodes the misses on its workers
    (:func:`embed_on_engine`)."""
    if engine is not None and getattr(engine, "kind", "local") != "local" and settings.cache:
        return embed_on_engine(con, drop, settings, engine)
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


def embed_on_engine(con: duckdb.DuckDBPyConnection, drop: str, settings: EmbeddingSettings, engine) -> dict:
    """:func:`embed_drop` with the misses encoded by :data:`EMBED` on ``engine``; the same summary and cache rows."""
    from anchormix.engine import run_transform

    started = time.perf_counter()
    cache = EmbeddingCache(con)
    mid = model_id(settings)
    records, new_in_drop, distinct = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE drop = $drop), count(DISTINCT content_hash) FROM ({ELIGIBLE_SQL})",
        {"drop": drop, "model": mid}).fetchone()
    out = run_transform(con, EMBED, drop, settings, engine)
    dim = 0
    if out.num_rows:
        flat = out.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        vectors = flat.astype(np.float32, copy=False).reshape(out.num_rows, -1)
        cache.put(out.column("content_hash").to_pylist(), vectors, mid)
        dim = vectors.shape[1]
    elif records:
        dim = cache.dim(mid) or 0
    elapsed = time.perf_counter() - started
    return {
        "records": int(records),
        "new_in_drop": int(new_in_drop),
        "cache_hits": int(distinct) - out.num_rows,
        "cache_misses": out.num_rows,
        "docs_per_s": float(records / elapsed) if elapsed > 0 else float("inf"),
        "model_id": mid,
        "dim": int(dim),
    }


def vectors_for(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, settings: EmbeddingSettings) -> np.ndarray:
    """Cached vectors for ``frame.content_hash`` in row order; raises if any is missing."""
    mid = model_id(settings)
    if frame.empty:
        return np.zeros((0, 0), dtype=np.float32)
    matrix, missing = EmbeddingCache(con).matrix(frame["content_hash"].tolist(), mid)
    if missing:
        raise RuntimeError(
            f"{len(missing)} records have no vector for model {mid}; materialize `embeddings` for this drop first"
        )
    return matrix
