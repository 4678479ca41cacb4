"""Detector scoring: the per-record part of the provenance stage, run on the engine.

The provenance stage trains (or keeps) the detector on the driver, where the
store and the confident set are; scoring the unknown records is then a pure map
from ``(content hash, text, vector)`` to a verdict, and it is the stage's
per-record cost. :data:`DETECTOR_SCORES` is that map. Its settings are a
:class:`ScoringJob` holding the fitted detector, so a Ray worker gets the model
with its task and never reads the driver's model directory or the DuckDB file.

The driver hands the texts to score over as a view on its connection
(:data:`TODO_VIEW`), with their sentence vectors when the model has an
embedding block: the vectors come from the embedding cache on the driver (the
embeddings stage ran first), so workers need no embedding model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from anchormix.provenance.detector import Assessment, Detector
from anchormix.stages.record_batches import RecordTransform
from anchormix.store_writes import settle

TODO_VIEW = "_anchormix_detector_todo"

SCORES_SCHEMA = pa.schema([("content_hash", pa.string()), ("score", pa.float64()), ("verdict", pa.string()),
                           ("reason", pa.string())])


@dataclass(frozen=True)
class ScoringJob:
    """What a worker needs to score: the fitted detector (pickled with the task)."""

    detector: Detector


def _vectors(batch: pa.RecordBatch) -> np.ndarray:
    column = batch.column("vector")
    if column.null_count:
        raise ValueError(f"detector_scores: {column.null_count} rows have no sentence vector; the driver sends one "
                         "per text when the model has an embedding block")
    flat = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return flat.reshape(batch.num_rows, -1) if batch.num_rows else flat.reshape(0, 0)


def score_batch(batch: pa.RecordBatch, job: ScoringJob) -> pa.RecordBatch:
    """``(content_hash, text, vector)`` rows -> each text's verdict: score (null when abstained), verdict, reason."""
    detector = job.detector
    vectors = _vectors(batch) if detector.model.features.needs_vectors else None
    found = detector.assess(batch.column("text").to_pylist(), batch.column("content_hash").to_pylist(),
                            vectors=vectors)
    return pa.RecordBatch.from_arrays([
        batch.column("content_hash"),
        pa.array([a.score for a in found], pa.float64()),
        pa.array([a.verdict for a in found], pa.string()),
        pa.array([a.reason for a in found], pa.string()),
    ], schema=SCORES_SCHEMA)


SOURCE_SQL = f"SELECT content_hash, text, vector FROM {TODO_VIEW} WHERE drop = $1 ORDER BY pos"

DETECTOR_SCORES = RecordTransform("detector_scores", SOURCE_SQL, None, SCORES_SCHEMA, score_batch)

Embedder = Callable[[Sequence[str], Sequence[str]], Any]


def _todo_table(drop: str, texts: Sequence[str | None], hashes: Sequence[str], vectors) -> pa.Table:
    n = len(texts)
    if vectors is None:
        vector = pa.nulls(n, pa.list_(pa.float32()))
    else:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(n, -1)
        d = vectors.shape[1]
        vector = pa.ListArray.from_arrays(pa.array(np.arange(0, (n + 1) * d, d, dtype=np.int32)),
                                          pa.array(vectors.reshape(-1)))
    return pa.table({"drop": pa.array([drop] * n, pa.string()), "pos": pa.array(np.arange(n), pa.int64()),
                     "content_hash": pa.array(list(hashes), pa.string()),
                     "text": pa.array(list(texts), pa.string()), "vector": vector})


def engine_scorer(con: duckdb.DuckDBPyConnection, drop: str, engine=None):
    """A scorer for :func:`~anchormix.provenance.labeler.label_records` that runs :data:`DETECTOR_SCORES` on
    ``engine`` (None: in this process): ``scorer(detector, texts, hashes, embed)`` -> an Assessment per text.

    ``embed(hashes, texts)`` gives the vectors the driver sends along (read from the embedding cache)."""
    from anchormix.engine import run_transform

    def score(detector: Detector, texts: Sequence[str | None], hashes: Sequence[str],
              embed: Embedder) -> list[Assessment]:
        if not texts:
            return []
        vectors = None
        if detector.model.features.needs_vectors:
            # A missing or empty text abstains without a vector; the others' come from the cache.
            have = [i for i, t in enumerate(texts) if t]
            found = np.asarray(embed([hashes[i] for i in have], [texts[i] for i in have]), dtype=np.float32)
            vectors = np.zeros((len(texts), found.shape[1] if len(have) else 1), dtype=np.float32)
            vectors[have] = found
        settle(con).register(TODO_VIEW, _todo_table(drop, texts, hashes, vectors))
        try:
            out = run_transform(con, DETECTOR_SCORES, drop, ScoringJob(detector), engine)
        finally:
            con.unregister(TODO_VIEW)
        if out.num_rows != len(texts):
            raise RuntimeError(f"detector_scores: {out.num_rows} verdicts for {len(texts)} texts")
        return [Assessment(score, verdict, reason) for score, verdict, reason in zip(
            out.column("score").to_pylist(), out.column("verdict").to_pylist(), out.column("reason").to_pylist())]

    return score
