"""Semantic duplicates (SemDeDup-style): cosine >= tau between sentence embeddings.

Vectors are clustered with seeded k-means (``faiss.Kmeans``; in a PCA
projection to :data:`COARSE_DIMS` dimensions when they have more), into lists of
about :data:`LIST_SIZE` vectors, of a FAISS inverted-file index over all
vectors (inner product = cosine on L2-normalized vectors); its lists hold fp16
copies, and every candidate they give is checked on the float vectors (see
:func:`candidate_pairs`). Each non-history record is range-searched for
neighbours with cosine >= tau in its ``nprobe`` *nearest* clusters, not only
its own: two near-identical vectors on either side of a cluster boundary fall
in different clusters, and searching a single cluster would lose them. Pairs
found from either end are kept (the search is symmetrised), which is what lets
the clustered search find >= 99% of the exact pairs at the defaults (checked
against :func:`brute_force_pairs` in the tests and the bench).

Representative rule (which record of a group of semantic duplicates is kept):

1. history records (``is_history``: already accepted in earlier drops) are the
   reference and are never marked; a new record similar to one always loses;
2. among new records, the lower ``priority`` wins; :func:`priority_rank` builds
   the documented order: earliest drop, then highest quality score, then the
   smallest id; without ``priority`` input order wins;
3. records are visited in that order and a record is a duplicate of the kept
   record it is *most* similar to (ties: history first, then priority). Only
   records with a direct similarity >= tau to a kept record are marked, so a
   chain A~B~C where A and C differ never drops C for A's sake.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from anchormix.vectors import rows_normalized

DEFAULT_NPROBE = 8
# Bound on how far a unit vector's inner product moves when one side is stored as fp16: rounding is within
# 2^-11 of each component (relative); 2^-10 also covers a conversion that truncates.
FP16_IP_ERROR = 2.0 ** -10
# Vectors per inverted list when the count is automatic. With about sqrt(n) lists a query scanned nprobe lists of
# sqrt(n) vectors, so the search grew as n^1.5; lists of a fixed size keep the scan per query constant. 100 was
# the cheapest of 32-256 on 10k-100k docstring vectors, with the same pairs (bench/README.md).
LIST_SIZE = 100
# k-means for the lists: 40 sampled points per centroid (faiss wants 39) and 4 iterations find the same pairs as
# 256 points and 20 iterations at 10k, 30k and 100k: the lists only need to be compact, and every query probes
# nprobe of them.
_MAX_POINTS_PER_CENTROID = 40
_KMEANS_ITERATIONS = 4
# The lists are built and probed in a PCA projection of this many dimensions. k-means and the coarse search cost
# n x (n / LIST_SIZE) x dims, the one part of the search that grows faster than n; in 96 of 384 dimensions they cost
# a quarter, and the lists still found the same pairs on 10k and 100k docstring vectors (32 and 64 dimensions lost
# 1-3 of 3,411; bench/README.md). The range search itself scans the full vectors.
COARSE_DIMS = 96
_PCA_SAMPLE = 20_000


def fp16_margin(d: int) -> float:
    """How far below tau a search of fp16 lists of ``d``-dimensional unit vectors reaches so that it loses no pair
    a float search finds: FP16_IP_ERROR, plus fp16's subnormal spacing per component."""
    return FP16_IP_ERROR + d * 2.0 ** -24


def _normalized(vectors: np.ndarray) -> np.ndarray:
    # FAISS wants float32.
    return rows_normalized(vectors, np.float32)


def auto_clusters(n: int) -> int:
    """Clusters used when none are given: one per LIST_SIZE vectors, so the lists keep their size as n grows."""
    return max(1, n // LIST_SIZE)


def coarse_quantizer(x: np.ndarray, k: int, seed: int):
    """``(quantizer, lists index, projected x)``: seeded k-means of the unit rows ``x`` into ``k`` lists.

    With more than :data:`COARSE_DIMS` dimensions the lists are found in a PCA projection (fitted on a seeded
    sample); lists only need to be compact, and every query probes several of them. The quantizer takes full
    vectors (a ``faiss.IndexPreTransform`` of the projection and the centroids, which a saved index keeps); the
    lists index searches the projected rows (the centroids alone), so the rows trained on are not projected twice.
    """
    import faiss

    n, d = x.shape
    if d <= COARSE_DIMS:  # unit vectors: cosine k-means
        km = faiss.Kmeans(d, k, niter=_KMEANS_ITERATIONS, seed=seed, spherical=True, verbose=False,
                          max_points_per_centroid=_MAX_POINTS_PER_CENTROID)
        km.train(x)
        quantizer = faiss.IndexFlatIP(d)
        quantizer.add(km.centroids)
        return quantizer, quantizer, x
    sample = x[np.random.default_rng(seed).choice(n, min(n, _PCA_SAMPLE), replace=False)]
    pca = faiss.PCAMatrix(d, COARSE_DIMS)
    pca.train(sample)
    projected = pca.apply(x)
    # A projection is not unit: squared distances.
    km = faiss.Kmeans(COARSE_DIMS, k, niter=_KMEANS_ITERATIONS, seed=seed, spherical=False, verbose=False,
                      max_points_per_centroid=_MAX_POINTS_PER_CENTROID)
    km.train(projected)
    lists = faiss.IndexFlatL2(COARSE_DIMS)
    lists.add(km.centroids)
    return faiss.IndexPreTransform(pca, lists), lists, projected


def _coarse_lists(x: np.ndarray, k: int, nprobe: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``nprobe`` nearest of ``k`` k-means lists (:func:`coarse_quantizer`): ``(similarities or negated
    squared distances, list numbers)``."""
    _, lists, projected = coarse_quantizer(x, k, seed)
    scores, nearest = lists.search(projected, nprobe)
    return (scores if projected is x else -scores), nearest


def brute_force_pairs(vectors: np.ndarray, tau: float, queries: np.ndarray | None = None) -> pd.DataFrame:
    """Exact pairs with cosine >= tau (numpy, chunked): DataFrame ``i, j, similarity``, ``i < j``.

    With ``queries`` (indices), only pairs involving at least one of them.
    """
    x = _normalized(vectors)
    n = len(x)
    rows_i, rows_j, sims = [], [], []
    q_idx = np.arange(n) if queries is None else np.unique(np.asarray(queries, dtype=np.int64))
    chunk = 1024
    for start in range(0, len(q_idx), chunk):
        qi = q_idx[start : start + chunk]
        s = x[qi] @ x.T
        a, b = np.nonzero(s >= tau)
        ia, jb = qi[a], b
        keep = ia != jb
        rows_i.append(ia[keep])
        rows_j.append(jb[keep])
        sims.append(s[a[keep], b[keep]])
    i = np.concatenate(rows_i) if rows_i else np.zeros(0, np.int64)
    j = np.concatenate(rows_j) if rows_j else np.zeros(0, np.int64)
    sim = np.concatenate(sims) if sims else np.zeros(0, np.float32)
    return _canonical_pairs(i, j, sim)


def _canonical_pairs(i: np.ndarray, j: np.ndarray, sim: np.ndarray) -> pd.DataFrame:
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    df = pd.DataFrame({"i": lo.astype(np.int64), "j": hi.astype(np.int64), "similarity": sim.astype(np.float64)})
    return (
        df.sort_values("similarity", ascending=False, kind="stable")
        .drop_duplicates(["i", "j"])
        .sort_values(["i", "j"], kind="stable")
        .reset_index(drop=True)
    )


def candidate_pairs(
    vectors: np.ndarray,
    tau: float,
    n_clusters: int | None = None,
    seed: int = 0,
    nprobe: int = DEFAULT_NPROBE,
    queries: np.ndarray | None = None,
) -> pd.DataFrame:
    """Pairs with cosine >= tau found by the clustered FAISS search: DataFrame ``i, j, similarity``, ``i < j``.

    ``queries`` (indices; default all) are searched against every vector in
    their ``nprobe`` nearest k-means clusters. ``n_clusters`` None or 0 = auto.
    """
    import faiss

    x = _normalized(vectors)
    n, d = x.shape
    q_idx = np.arange(n) if queries is None else np.unique(np.asarray(queries, dtype=np.int64))
    if n < 2 or len(q_idx) == 0:
        return _canonical_pairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
    k = n_clusters or auto_clusters(n)
    k = max(1, min(k, n))
    radius = float(tau) - 1e-6  # faiss keeps results with inner product strictly above the radius
    if k == 1:
        index = faiss.IndexFlatIP(d)
        index.add(x)
        lims, dist, labels = index.range_search(x[q_idx], radius)
        searched, margin = q_idx, 0.0
    else:
        coarse_sim, coarse = _coarse_lists(x, k, min(nprobe, k), seed)
        # The lists hold fp16 copies: half the bytes to scan. A unit vector's fp16 copy is within 2^-11 of it
        # per component (relative), so an inner product moves by less than FP16_IP_ERROR; the search radius is
        # lowered by that much and every candidate is checked on the float vectors, so the pairs are exactly
        # those a float index finds in the same lists.
        index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(d), d, k, faiss.ScalarQuantizer.QT_fp16,
                                              faiss.METRIC_INNER_PRODUCT)
        index.by_residual = False
        # Every vector comes with its lists (add_core, range_search_preassigned), so the index's own quantizer is
        # never asked; fp16 needs no training, and train() would run k-means on that unused quantizer.
        index.is_trained = True
        index.nprobe = coarse.shape[1]
        # add_core reads through raw pointers: the arrays must stay referenced for the call.
        ids, nearest = np.arange(n, dtype=np.int64), np.ascontiguousarray(coarse[:, 0])
        index.add_core(n, faiss.swig_ptr(x), faiss.swig_ptr(ids), faiss.swig_ptr(nearest))
        # Queries go in the order of their nearest list: consecutive queries probe mostly the same lists, which
        # then stay in cache (the lists of a 100k drop do not fit in it).
        searched = q_idx[np.argsort(coarse[q_idx, 0], kind="stable")]
        margin = fp16_margin(d)
        lims, dist, labels = index.range_search_preassigned(x[searched], radius - margin,
                                                            np.ascontiguousarray(coarse[searched]),
                                                            np.ascontiguousarray(coarse_sim[searched]))
    counts = np.diff(lims).astype(np.int64)
    qi = np.repeat(searched, counts)
    keep = labels != qi
    qi, labels = qi[keep], labels[keep]
    sims = np.einsum("ij,ij->i", x[qi], x[labels]) if margin else dist[keep]
    keep = sims >= tau - 1e-6
    return _canonical_pairs(qi[keep], labels[keep], sims[keep])


def priority_rank(ids: Sequence[str], drops: Sequence[str] | None = None,
                  quality: Sequence[float] | None = None) -> np.ndarray:
    """Rank (0 = kept first) by earliest drop, then highest quality score, then smallest id.

    Missing quality scores rank after present ones.
    """
    ids_arr = np.asarray([str(i) for i in ids], dtype=object)
    n = len(ids_arr)
    keys = [ids_arr]
    if quality is not None:
        q = np.asarray(quality, dtype=np.float64)
        keys.append(np.where(np.isnan(q), np.inf, -q))
    if drops is not None:
        keys.append(np.asarray([str(x) for x in drops], dtype=object))
    order = sorted(range(n), key=lambda r: tuple(k[r] for k in reversed(keys)))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return rank


def semantic_duplicates(
    ids: Sequence[str],
    vectors: np.ndarray,
    is_history: np.ndarray,
    tau: float,
    n_clusters: int | None = None,
    seed: int = 0,
    priority: np.ndarray | None = None,
    nprobe: int = DEFAULT_NPROBE,
) -> pd.DataFrame:
    """Mark new records whose embedding has cosine >= ``tau`` with a kept record.

    ``ids`` and ``vectors`` (one row each, same model) cover history and new
    records; ``is_history`` marks already-accepted records, which are never
    marked. ``priority`` (lower wins, e.g. :func:`priority_rank`) orders new
    records; default input order. Returns ``id, duplicate_of, similarity`` for
    each duplicate (see the module docstring for the representative rule).
    """
    ids = [str(i) for i in ids]
    n = len(ids)
    is_history = np.asarray(is_history, dtype=bool)
    if len(is_history) != n or len(vectors) != n:
        raise ValueError(f"{n} ids, {len(vectors)} vectors, {len(is_history)} history flags")
    empty = pd.DataFrame({"id": pd.Series([], dtype=object), "duplicate_of": pd.Series([], dtype=object),
                          "similarity": pd.Series([], dtype="float64")})
    new_idx = np.flatnonzero(~is_history)
    if n < 2 or len(new_idx) == 0:
        return empty
    pairs = candidate_pairs(vectors, tau, n_clusters=n_clusters, seed=seed, nprobe=nprobe, queries=new_idx)
    return choose_representatives(ids, is_history, pairs, priority)


def choose_representatives(ids: Sequence[str], is_history: np.ndarray, pairs: pd.DataFrame,
                           priority: np.ndarray | None = None) -> pd.DataFrame:
    """Apply the representative rule (module docstring) to similar ``pairs`` (``i, j, similarity``).

    Returns ``id, duplicate_of, similarity`` for each new record marked.
    """
    ids = [str(i) for i in ids]
    n = len(ids)
    is_history = np.asarray(is_history, dtype=bool)
    new_idx = np.flatnonzero(~is_history)
    empty = pd.DataFrame({"id": pd.Series([], dtype=object), "duplicate_of": pd.Series([], dtype=object),
                          "similarity": pd.Series([], dtype="float64")})
    if pairs.empty or len(new_idx) == 0:
        return empty
    prio = np.arange(n) if priority is None else np.asarray(priority)
    if len(prio) != n:
        raise ValueError(f"{len(prio)} priorities for {n} records")
    # Position in the visiting order: history first, then by priority, then id.
    order = sorted(new_idx.tolist(), key=lambda r: (prio[r], ids[r]))
    position = np.full(n, -1, dtype=np.int64)
    position[np.asarray(order, dtype=np.int64)] = np.arange(len(order))

    neighbours: dict[int, list[tuple[int, float]]] = {}
    for i, j, s in zip(pairs["i"].to_numpy(), pairs["j"].to_numpy(), pairs["similarity"].to_numpy()):
        neighbours.setdefault(int(i), []).append((int(j), float(s)))
        neighbours.setdefault(int(j), []).append((int(i), float(s)))

    kept = is_history.copy()
    out = []
    for r in order:
        best = None
        for other, s in neighbours.get(r, ()):
            if not kept[other]:
                continue
            key = (-s, 0 if is_history[other] else 1, position[other], ids[other])
            if best is None or key < best[0]:
                best = (key, other, s)
        if best is None:
            kept[r] = True
        else:
            out.append((ids[r], ids[best[1]], min(best[2], 1.0)))
    if not out:
        return empty
    return pd.DataFrame(out, columns=["id", "duplicate_of", "similarity"]).astype({"similarity": "float64"})
