"""A persisted FAISS inverted-file index of accepted records' vectors, kept between nights.

Semantic dedup asks, each night, which of tonight's vectors lie within cosine
``tau`` of an accepted history record. Re-clustering and re-indexing all of
history every night made that cost grow with history; here the k-means
centroids and the inverted lists persist in one file next to the store, and a
night only adds its own accepted records. The lists keep a fixed size
(:data:`anchormix.dedup.semantic.LIST_SIZE`, the lists found in a PCA
projection as in the within-drop search), so a query scans the same number of
vectors on night 300 as on night 3; with about sqrt(n) lists, as before, the
scan per query grew as sqrt(history). The centroids are retrained (the index
rebuilt from every accepted vector) when history has grown by
``retrain_growth`` since they were trained.

Which records the index holds is known by drop: the meta file keeps, for each
drop added, the count, sum and xor of its accepted seqs, and a night compares
them with the store's (one grouped query) and re-adds only the drops that
differ, normally none but last night's. So no night reads every history seq.

The index is a cache, never the truth. Every hit is checked against the store
(accepted, from an earlier drop, not retracted) before it counts, a drop whose
accepted records changed is re-added, and a missing, unreadable or other-model file
is rebuilt, as is one saved for another store (a store deleted and made again
reuses seqs, so its identity is checked too) or in an older format. Members are keyed by ``raw_records.seq`` (a
BIGINT unique per record).

The inverted lists hold fp16 copies of the vectors: half the bytes to scan, save and load each night. As in the
within-drop search (:func:`anchormix.dedup.semantic.candidate_pairs`), the radius is lowered by the bound on how
far fp16 moves an inner product and every candidate is checked on its float vector, read through
``exact`` (the embedding cache, by member seq), so the hits are those a float index finds in the same lists.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from anchormix.dedup.semantic import _MAX_POINTS_PER_CENTROID, auto_clusters, coarse_quantizer, fp16_margin
from anchormix.store import model_file_beside
from anchormix.vectors import rows_normalized

# Below this many vectors a flat (exact) index is cheaper than k-means.
_MIN_IVF = 2_000
# At most this many lists: k-means costs (points per list) x k^2 x dims, about 110 CPU-s at 16k lists, paid once
# per doubling of history; past 1.6M members the lists grow instead.
_MAX_LISTS = 1 << 14
# Members are added this many at a time.
_ADD_CHUNK = 1 << 16
# Saved with the index; a file of another format is rebuilt (1: float lists; 2: fp16 lists, sqrt(n) of them;
# 3: fp16 lists of a fixed size found in a PCA projection, the drops they hold recorded).
INDEX_FORMAT = 3

# Member seqs (sorted, unique) -> (their float vectors, which of them are accepted history); others are not hits.
ExactVectors = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
# A drop's accepted records, as the index and the store know them: (count, sum of seqs, xor of seqs).
Fingerprint = tuple[int, int, int]

ACCEPTED_BY_DROP_SQL = """
    SELECT d.drop, count(*), sum(r.seq), bit_xor(r.seq)
    FROM dedup d JOIN raw_records r USING (id)
    WHERE d.drop < ? AND d.status = 'unique' GROUP BY d.drop
"""
ACCEPTED_OF_DROPS_SQL = """
    SELECT r.seq, n.content_hash
    FROM dedup d JOIN raw_records r USING (id) JOIN normalized n USING (id)
    WHERE d.drop IN (SELECT unnest(?)) AND d.status = 'unique' ORDER BY r.seq
"""
ACCEPTED_MEMBERS_SQL = """
    SELECT r.seq, n.content_hash
    FROM raw_records r JOIN dedup d USING (id) JOIN normalized n USING (id)
    WHERE r.seq IN (SELECT unnest(?)) AND d.drop < ? AND d.status = 'unique'
"""


@dataclass
class IndexStats:
    """What opening the index found: ``history`` (accepted records before the drop), ``rebuilt`` (and why),
    members ``added`` from history, ``size`` and ``clusters``."""

    history: int = 0
    rebuilt: str | None = None
    added: int = 0
    size: int = 0
    clusters: int = 1


def fingerprint(seqs: np.ndarray) -> Fingerprint:
    """(count, sum, xor) of a drop's accepted seqs, as :data:`ACCEPTED_BY_DROP_SQL` gives them."""
    seqs = np.asarray(seqs, dtype=np.int64)
    return len(seqs), int(seqs.sum()), int(np.bitwise_xor.reduce(seqs))  # empty: (0, 0, 0)


def index_path(con: duckdb.DuckDBPyConnection, model_id: str) -> Path | None:
    """``<store>.semantic/<model hash>.faiss`` beside the store's file; None for an in-memory store."""
    return model_file_beside(con, "semantic", model_id, ".faiss")


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
    return 1 if n < _MIN_IVF else min(auto_clusters(n), _MAX_LISTS)


class SemanticIndex:
    """An ID-mapped FAISS index (inner product on unit vectors) over accepted records, by seq.

    ``drops`` maps each drop whose records were added to the :func:`fingerprint` of what was added."""

    def __init__(self, index, trained_on: int, path: Path | None, store_id: str = "",
                 drops: dict[str, Fingerprint] | None = None, exact: ExactVectors | None = None):
        self.index = index
        self.trained_on = trained_on
        self.path = path
        self.store_id = store_id
        self.drops: dict[str, Fingerprint] = dict(drops or {})
        self.exact = exact  # float vectors of accepted members, to check candidates on

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def clusters(self) -> int:
        return int(getattr(self.index, "nlist", 1))

    @classmethod
    def build(cls, seqs: np.ndarray, vectors: np.ndarray | Callable[[np.ndarray], np.ndarray], path: Path | None,
              seed: int = 0, store_id: str = "") -> "SemanticIndex":
        """Train lists (k-means, one list per LIST_SIZE members) and add every member.

        ``vectors`` is the members' matrix, or ``vectors(positions)`` giving the rows at those positions: the
        lists are then trained on a seeded sample (as many rows as k-means samples) and members added a chunk at
        a time, so a rebuild never holds all of history's float vectors."""
        import faiss

        seqs = np.asarray(seqs, dtype=np.int64)
        rows_of = vectors if callable(vectors) else (lambda pos: vectors[pos])
        n = len(seqs)
        k = _clusters_for(n)
        if k == 1:  # a few thousand members at most: all in memory
            x = rows_normalized(rows_of(np.arange(n)), np.float32)
            out = cls(faiss.IndexIDMap2(faiss.IndexFlatIP(x.shape[1])), n, path, store_id)
            out.add(seqs, x)
            return out
        sample = np.sort(np.random.default_rng(seed).choice(n, min(n, k * _MAX_POINTS_PER_CENTROID), replace=False))
        quantizer, _, _ = coarse_quantizer(rows_normalized(rows_of(sample), np.float32), k, seed)
        index = faiss.IndexIVFScalarQuantizer(quantizer, quantizer.d, k, faiss.ScalarQuantizer.QT_fp16,
                                              faiss.METRIC_INNER_PRODUCT)
        index.by_residual = False
        index.is_trained = True  # the quantizer holds its k centroids already; fp16 learns nothing
        out = cls(index, n, path, store_id)
        for start in range(0, n, _ADD_CHUNK):
            pos = np.arange(start, min(n, start + _ADD_CHUNK))
            out.add(seqs[pos], rows_of(pos))
        return out

    @classmethod
    def load(cls, path: Path | None, dim: int, store_id: str = ""):
        """The saved index at ``path``, or None when absent, unreadable, of another dimension, format or store."""
        import faiss

        if path is None or not path.is_file():
            return None
        try:
            index = faiss.read_index(str(path))
            meta = json.loads(path.with_suffix(".meta.json").read_text())
            trained_on, saved_for = int(meta["trained_on"]), str(meta["store_id"])
            saved_format = int(meta.get("format", 1))
            drops = {str(k): (int(v[0]), int(v[1]), int(v[2])) for k, v in meta.get("drops", {}).items()}
        except (RuntimeError, OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
            return None
        if index.d != dim or saved_for != store_id or saved_format != INDEX_FORMAT:
            return None
        return cls(index, trained_on, path, store_id, drops)

    def add(self, seqs: np.ndarray, vectors: np.ndarray) -> None:
        """Add members (``seqs`` not already present are the caller's concern)."""
        if len(seqs):
            self.index.add_with_ids(rows_normalized(vectors, np.float32), np.asarray(seqs, dtype=np.int64))

    def remove(self, seqs: np.ndarray) -> int:
        """Remove these members where present (a scan of the whole index: for drops run again); how many went."""
        import faiss

        seqs = np.ascontiguousarray(seqs, dtype=np.int64)
        if not len(seqs) or not self.size:
            return 0
        return int(self.index.remove_ids(faiss.IDSelectorBatch(len(seqs), faiss.swig_ptr(seqs))))

    def set_drop(self, drop: str, seqs: np.ndarray, vectors: np.ndarray, earlier: np.ndarray) -> None:
        """Make ``drop``'s members exactly ``seqs``: ``earlier`` (every seq the drop may have had in the index,
        from a run before this one) are removed first."""
        self.remove(earlier)
        self.add(seqs, vectors)
        self.drops[drop] = fingerprint(seqs)

    def members(self) -> np.ndarray:
        """Every member's seq (a scan of the whole index)."""
        import faiss

        if hasattr(self.index, "invlists"):
            inv = self.index.invlists
            parts = [faiss.rev_swig_ptr(inv.get_ids(i), inv.list_size(i)).copy()
                     for i in range(self.index.nlist) if inv.list_size(i)]
            return np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def range_search(self, queries: np.ndarray, tau: float, nprobe: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(query row, member seq, cosine)`` for every member with cosine >= tau, in the nprobe nearest lists.

        Candidates are checked on their float vectors through ``exact`` when it is set (it must be for fp16
        lists): the cosines are the float ones, and members it does not accept are left out."""
        if self.size == 0 or len(queries) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
        q = rows_normalized(queries, np.float32)
        fp16 = hasattr(self.index, "sq")
        if fp16 and self.exact is None:
            raise ValueError("an index with fp16 lists needs its members' float vectors (exact) to check hits")
        # faiss keeps results with inner product strictly above the radius.
        radius = float(tau) - 1e-6 - (fp16_margin(q.shape[1]) if fp16 else 0.0)
        if hasattr(self.index, "nlist"):
            nprobe = min(nprobe, self.clusters)
            coarse_d, coarse = self.index.quantizer.search(q, nprobe)
            # Queries go in the order of their nearest list: consecutive queries scan mostly the same lists.
            order = np.argsort(coarse[:, 0], kind="stable")
            self.index.nprobe = nprobe
            lims, dist, labels = self.index.range_search_preassigned(
                q[order], radius, np.ascontiguousarray(coarse[order]), np.ascontiguousarray(coarse_d[order]))
        else:
            order = np.arange(len(q))
            lims, dist, labels = self.index.range_search(q, radius)
        rows = np.repeat(order, np.diff(lims).astype(np.int64))
        labels = labels.astype(np.int64)
        if self.exact is not None and len(labels):
            members, which = np.unique(labels, return_inverse=True)
            vectors, known = self.exact(members)
            x = rows_normalized(vectors, np.float32)
            dist = np.where(known[which], np.einsum("ij,ij->i", q[rows], x[which]), -np.inf).astype(np.float32)
        keep = dist >= tau - 1e-6
        return rows[keep], labels[keep], dist[keep]

    def save(self) -> None:
        """Write the index, then its meta, each atomically (temp file, then rename) beside the store.

        A crash between the two leaves an index newer than its meta: the drops it does not list are re-added
        (removed first), never lost."""
        import faiss

        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        meta_path = self.path.with_suffix(".meta.json")
        tmp, meta_tmp = (p.with_name(p.name + f".{os.getpid()}.tmp") for p in (self.path, meta_path))
        faiss.write_index(self.index, str(tmp))
        meta_tmp.write_text(json.dumps({"trained_on": self.trained_on, "store_id": self.store_id,
                                        "format": INDEX_FORMAT, "drops": self.drops}))
        os.replace(tmp, self.path)
        os.replace(meta_tmp, meta_path)


def drop_seqs(con: duckdb.DuckDBPyConnection, drops: list[str]) -> np.ndarray:
    """Every seq ingested in ``drops`` (whatever its status): what an earlier run of them can have added."""
    if not drops:
        return np.zeros(0, np.int64)
    return np.asarray(con.execute("SELECT seq FROM raw_records WHERE drop IN (SELECT unnest(?))",
                                  [drops]).fetchnumpy()["seq"], dtype=np.int64)


def open_index(con: duckdb.DuckDBPyConnection, drop: str, model_id: str, dim: int, vectors_of,
               retrain_growth: float = 1.0, seed: int = 0) -> tuple[SemanticIndex, IndexStats]:
    """The index of ``model_id`` holding every record accepted before ``drop``.

    ``vectors_of(content_hashes)`` returns their vectors (cache or encoder).
    Loads the saved index and re-adds the drops whose accepted records differ
    from what it holds (normally only last night's, new to it); rebuilds it
    when there is none, it cannot be read, or history has grown by
    ``retrain_growth`` since its centroids were trained. Its ``exact`` reads
    candidates' vectors and accepts only records accepted before ``drop``.
    """
    accepted = {str(d): (int(n), int(total), int(xor))
                for d, n, total, xor in con.execute(ACCEPTED_BY_DROP_SQL, [drop]).fetchall()}
    history = sum(fp[0] for fp in accepted.values())
    path = index_path(con, model_id)
    store_id = store_identity(con)
    index = SemanticIndex.load(path, dim, store_id)
    stats = IndexStats(history=history)
    if index is None:
        stats.rebuilt = ("no saved index" if path is None or not path.exists()
                         else "saved index unreadable, of an older format or made for another store")
    elif history > (1.0 + retrain_growth) * max(index.trained_on, 1) and history >= _MIN_IVF:
        stats.rebuilt = f"grew from {index.trained_on} to {history} records since the centroids were trained"
        index = None
    else:
        changed = sorted(d for d, fp in accepted.items() if index.drops.get(d) != fp)
        if changed:
            rows = con.execute(ACCEPTED_OF_DROPS_SQL, [changed]).fetchnumpy()
            seqs = np.asarray(rows["seq"], dtype=np.int64)
            # An index newer than its meta (see save) may hold drops the meta does not list: remove those too.
            index.remove(drop_seqs(con, changed))
            index.add(seqs, vectors_of(list(rows["content_hash"])))
            index.drops.update({d: accepted[d] for d in changed})
            stats.added = len(seqs)
    if index is None:
        rows = con.execute(ACCEPTED_OF_DROPS_SQL, [sorted(accepted)]).fetchnumpy()
        hashes = np.asarray(rows["content_hash"], dtype=object)

        def rows_of(positions: np.ndarray) -> np.ndarray:
            return vectors_of(list(hashes[positions])) if len(positions) else np.zeros((0, dim), np.float32)

        index = SemanticIndex.build(np.asarray(rows["seq"], dtype=np.int64), rows_of, path, seed=seed,
                                    store_id=store_id)
        index.drops = dict(accepted)
    index.exact = _exact_vectors(con, drop, dim, vectors_of)
    stats.size, stats.clusters = index.size, index.clusters
    return index, stats


def _exact_vectors(con: duckdb.DuckDBPyConnection, drop: str, dim: int, vectors_of) -> ExactVectors:
    """Float vectors of members accepted before ``drop``, by seq, through ``vectors_of(content_hashes)``."""

    def exact(members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        members = np.asarray(members, dtype=np.int64)
        out = np.zeros((len(members), dim), np.float32)
        known = np.zeros(len(members), bool)
        if not len(members):
            return out, known
        rows = con.execute(ACCEPTED_MEMBERS_SQL, [members.tolist(), drop]).fetchnumpy()
        order = np.argsort(members, kind="stable")
        pos = order[np.searchsorted(members, np.asarray(rows["seq"], dtype=np.int64), sorter=order)]
        if len(pos):
            known[pos] = True
            out[pos] = vectors_of(list(rows["content_hash"]))
        return out, known

    return exact
