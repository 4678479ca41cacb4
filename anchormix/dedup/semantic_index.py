"""A persisted FAISS inverted-file index of accepted records' vectors, kept between nights.

Semantic dedup asks, each night, which of tonight's vectors lie within cosine
``tau`` of an accepted history record. Re-clustering and re-indexing all of
history every night made that cost grow with history; here the k-means
centroids and the inverted lists persist in one file next to the store, and a
night only adds its own accepted records. The centroids are retrained (the
index rebuilt from every accepted vector) when the index has grown by
``retrain_growth`` since they were trained: with about sqrt(n) clusters, the
retrain cost amortises to a constant per record.

The index is a cache, never the truth. Every hit is checked against the store
(accepted, from an earlier drop, not retracted) before it counts, a member the
index lacks is added when found, and a missing, unreadable or other-model file
is rebuilt, as is one saved for another store (a store deleted and made again
reuses seqs, so its identity is checked too) or in an older format. Members are keyed by ``raw_records.seq`` (a
BIGINT unique per record).

The inverted lists hold fp16 copies of the vectors: half the bytes to scan, save and load each night. As in the
within-drop search (:func:`anchormix.dedup.semantic.candidate_pairs`), the radius is lowered by the bound on how
far fp16 moves an inner product and every candidate is checked on its float vector, read through
``exact`` (the embedding cache, by member seq), so the hits are those a float index finds in the same lists.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from anchormix.dedup.semantic import fp16_margin
from anchormix.vectors import rows_normalized

# faiss samples at most this many points per centroid when training k-means: at 100k docstring vectors 64
# finds the same pairs as 256 for a quarter of the training (8.4 -> 1.8 CPU-s).
_MAX_POINTS_PER_CENTROID = 64
# Below this many vectors a flat (exact) index is cheaper than k-means.
_MIN_IVF = 2_000
# Saved with the index; a file of another format is rebuilt (1: float lists, 2: fp16 lists).
INDEX_FORMAT = 2

# Member seqs -> (their float vectors, which of them are known); unknown members are not hits.
ExactVectors = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]

ACCEPTED_HISTORY_SQL = """
    SELECT r.seq, n.content_hash
    FROM normalized n JOIN dedup d USING (id) JOIN raw_records r USING (id)
    WHERE n.drop < ? AND d.status = 'unique'
"""


@dataclass
class IndexStats:
    """What loading the index cost: ``rebuilt`` (and why), members ``added`` from history, ``size``."""

    rebuilt: str | None = None
    added: int = 0
    size: int = 0
    clusters: int = 1


def index_path(con: duckdb.DuckDBPyConnection, model_id: str) -> Path | None:
    """``<store>.semantic/<model hash>.faiss`` beside the store's file; None for an in-memory store."""
    import hashlib

    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    if not row or not row[0]:
        return None
    store = Path(row[0])
    return store.with_name(store.name + ".semantic") / f"{hashlib.sha256(model_id.encode()).hexdigest()[:16]}.faiss"


def store_identity(con: duckdb.DuckDBPyConnection) -> str:
    """A random id made once per store: an index file beside a store that was deleted and re-created
    (whose seqs start again at 1) must not be read as this store's."""
    import uuid

    con.execute("CREATE TABLE IF NOT EXISTS store_identity (id VARCHAR NOT NULL)")
    row = con.execute("SELECT id FROM store_identity LIMIT 1").fetchone()
    if row is None:
        row = (uuid.uuid4().hex,)
        con.execute("INSERT INTO store_identity VALUES (?)", [row[0]])
    return row[0]


def _clusters_for(n: int) -> int:
    return 1 if n < _MIN_IVF else max(1, min(int(np.sqrt(n)), n // 39))


class SemanticIndex:
    """An ID-mapped FAISS index (inner product on unit vectors) over accepted records, by seq."""

    def __init__(self, index, trained_on: int, path: Path | None, store_id: str = "",
                 exact: ExactVectors | None = None):
        self.index = index
        self.trained_on = trained_on
        self.path = path
        self.store_id = store_id
        self.exact = exact  # float vectors of members, to check the fp16 lists' candidates on

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def clusters(self) -> int:
        return int(getattr(self.index, "nlist", 1))

    @classmethod
    def build(cls, seqs: np.ndarray, vectors: np.ndarray, path: Path | None, seed: int = 0,
              store_id: str = "") -> "SemanticIndex":
        """Train centroids on ``vectors`` (k-means, about sqrt(n) clusters) and add them all."""
        import faiss

        x = rows_normalized(vectors, np.float32)
        d = x.shape[1]
        k = _clusters_for(len(x))
        if k == 1:
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(d))
        else:
            km = faiss.Kmeans(d, k, niter=20, seed=seed, spherical=True, verbose=False,
                              max_points_per_centroid=_MAX_POINTS_PER_CENTROID)
            km.train(x)
            quantizer = faiss.IndexFlatIP(d)
            quantizer.add(km.centroids)
            index = faiss.IndexIVFScalarQuantizer(quantizer, d, k, faiss.ScalarQuantizer.QT_fp16,
                                                  faiss.METRIC_INNER_PRODUCT)
            index.by_residual = False
            index.train(x[:1])  # the quantizer holds its k centroids already; fp16 learns nothing
        out = cls(index, len(x), path, store_id)
        out.add(seqs, x)
        return out

    @classmethod
    def load(cls, path: Path | None, dim: int, store_id: str = ""):
        """The saved index at ``path``, or None when absent, unreadable, of another dimension or another store."""
        import json

        import faiss

        if path is None or not path.is_file():
            return None
        try:
            index = faiss.read_index(str(path))
            meta = json.loads(path.with_suffix(".meta.json").read_text())
            trained_on, saved_for = int(meta["trained_on"]), str(meta["store_id"])
            saved_format = int(meta.get("format", 1))
        except (RuntimeError, OSError, ValueError, KeyError, TypeError):
            return None
        if index.d != dim or saved_for != store_id or saved_format != INDEX_FORMAT:
            return None
        return cls(index, trained_on, path, store_id)

    def add(self, seqs: np.ndarray, vectors: np.ndarray) -> None:
        """Add members (``seqs`` not already present are the caller's concern)."""
        if len(seqs):
            self.index.add_with_ids(rows_normalized(vectors, np.float32), np.asarray(seqs, dtype=np.int64))

    def members(self) -> np.ndarray:
        """Every member's seq."""
        import faiss

        if hasattr(self.index, "invlists"):
            inv = self.index.invlists
            parts = [faiss.rev_swig_ptr(inv.get_ids(i), inv.list_size(i)).copy()
                     for i in range(self.index.nlist) if inv.list_size(i)]
            return np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def range_search(self, queries: np.ndarray, tau: float, nprobe: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(query row, member seq, cosine)`` for every member with cosine >= tau, in the nprobe nearest lists.

        With fp16 lists the cosines are those of the float vectors (``exact``); members it does not know are
        left out."""
        if self.size == 0 or len(queries) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
        if hasattr(self.index, "nprobe"):
            self.index.nprobe = min(nprobe, self.clusters)
        q = rows_normalized(queries, np.float32)
        fp16 = hasattr(self.index, "sq")
        margin = fp16_margin(q.shape[1]) if fp16 else 0.0
        # faiss keeps results with inner product strictly above the radius.
        lims, dist, labels = self.index.range_search(q, float(tau) - 1e-6 - margin)
        rows = np.repeat(np.arange(len(queries)), np.diff(lims).astype(np.int64))
        labels = labels.astype(np.int64)
        if fp16 and len(labels):
            if self.exact is None:
                raise ValueError("an index with fp16 lists needs its members' float vectors (exact) to check hits")
            members, which = np.unique(labels, return_inverse=True)
            vectors, known = self.exact(members)
            x = rows_normalized(vectors, np.float32)
            dist = np.where(known[which], np.einsum("ij,ij->i", q[rows], x[which]), -np.inf).astype(np.float32)
        keep = dist >= tau - 1e-6
        return rows[keep], labels[keep], dist[keep]

    def save(self) -> None:
        """Write the index atomically (temp file, then rename) beside the store."""
        import faiss

        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        import json

        faiss.write_index(self.index, str(tmp))
        self.path.with_suffix(".meta.json").write_text(json.dumps({"trained_on": self.trained_on,
                                                                   "store_id": self.store_id,
                                                                   "format": INDEX_FORMAT}))
        os.replace(tmp, self.path)


def open_index(con: duckdb.DuckDBPyConnection, drop: str, model_id: str, dim: int, vectors_of,
               retrain_growth: float = 1.0, seed: int = 0) -> tuple[SemanticIndex, np.ndarray, IndexStats]:
    """The index of ``model_id`` covering every record accepted before ``drop``, and those records' seqs.

    ``vectors_of(content_hashes)`` returns their vectors (cache or encoder).
    Loads the saved index and adds the accepted records it lacks; rebuilds it
    when there is none, it cannot be read, or it has grown by ``retrain_growth``
    since its centroids were trained.
    """
    history = con.execute(ACCEPTED_HISTORY_SQL, [drop]).fetchnumpy()
    seqs = np.asarray(history["seq"], dtype=np.int64)
    hashes = np.asarray(history["content_hash"], dtype=object)
    path = index_path(con, model_id)
    store_id = store_identity(con)
    index = SemanticIndex.load(path, dim, store_id)
    stats = IndexStats()
    if index is None:
        stats.rebuilt = ("no saved index" if path is None or not path.exists()
                         else "saved index unreadable, of an older format or made for another store")
    else:
        missing = ~np.isin(seqs, index.members())
        grown = index.size + int(missing.sum())
        if grown > (1.0 + retrain_growth) * max(index.trained_on, 1) and grown >= _MIN_IVF:
            stats.rebuilt = f"grew from {index.trained_on} to {grown} records since the centroids were trained"
            index = None
        elif missing.any():
            index.add(seqs[missing], vectors_of(list(hashes[missing])))
            stats.added = int(missing.sum())
    if index is None:
        vectors = vectors_of(list(hashes)) if len(hashes) else np.zeros((0, dim), np.float32)
        index = SemanticIndex.build(seqs, vectors, path, seed=seed, store_id=store_id)
    index.exact = _exact_vectors(seqs, hashes, dim, vectors_of)
    stats.size, stats.clusters = index.size, index.clusters
    return index, seqs, stats


def _exact_vectors(seqs: np.ndarray, hashes: np.ndarray, dim: int, vectors_of) -> ExactVectors:
    """Float vectors of accepted members by seq, through ``vectors_of(content_hashes)``."""
    import pandas as pd

    position = pd.Index(seqs)

    def exact(members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = position.get_indexer(members)
        known = pos >= 0
        out = np.zeros((len(members), dim), np.float32)
        if known.any():
            out[known] = vectors_of(list(hashes[pos[known]]))
        return out, known

    return exact
