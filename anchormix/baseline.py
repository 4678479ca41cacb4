"""The pinned human baseline every mix is measured against.

A baseline freezes k-means centroids fitted on embeddings of trusted human
text, the baseline's own cluster histogram and metrics, and the model id of its
vectors. It is pinned once and never replaced silently: later generations are
compared with *the same* reference, or drift would hide itself. Vectors of
another model are meaningless against it, so loading checks the model id.

On disk (``directory``): ``baseline.npz`` (``centroids`` float32 [k, d],
``hist`` int64 [k], ``vectors`` float32 [n, d] and ``labels`` int64 [n], the
pool the calibrated gate draws healthy samples from) and ``baseline.json``
(model_id, created_at, n, k, seed, dim, vendi, effective_rank,
cluster_entropy, clusters (label, terms and exemplar ids of each), adequacy
warnings, npz_sha256). A baseline pinned before the pool was kept has no
``vectors``; the gate then asks for a re-pin.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from anchormix.diversity import cluster_entropy, cluster_hist, effective_rank, vendi_score

NPZ_NAME = "baseline.npz"
JSON_NAME = "baseline.json"


class BaselineExists(FileExistsError):
    """A baseline is already pinned in the directory and ``overwrite`` was not given."""


class BaselineMismatch(ValueError):
    """The pinned baseline was made with another embedding model, or its files disagree."""


@dataclass(frozen=True)
class Baseline:
    """A pinned human baseline (see the module docstring)."""

    centroids: np.ndarray
    hist: np.ndarray
    model_id: str
    created_at: str
    n: int
    k: int
    seed: int
    vendi: float
    effective_rank: float
    cluster_entropy: float
    vectors: np.ndarray | None = None
    labels: np.ndarray | None = None
    clusters: tuple = ()
    adequacy: tuple = ()
    digest: str = ""

    def assign(self, X: np.ndarray) -> np.ndarray:
        """Nearest frozen centroid of each row of ``X`` (:func:`assign_clusters`)."""
        return assign_clusters(self, X)

    @property
    def cluster_names(self) -> list[str]:
        """Readable label of each cluster ("" where unknown), by cluster id."""
        names = [""] * self.k
        for c in self.clusters:
            if 0 <= int(c["cluster"]) < self.k and c.get("terms"):
                names[int(c["cluster"])] = c["label"]
        return names

    @property
    def weights(self) -> np.ndarray:
        """Baseline share of each cluster (float64, sums to 1): the target the mix sampler fills towards."""
        total = self.hist.sum()
        return self.hist / total if total else np.zeros(len(self.hist))


def _kmeans(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    import faiss

    km = faiss.Kmeans(x.shape[1], k, niter=25, seed=seed, spherical=True, verbose=False,
                      max_points_per_centroid=1024, min_points_per_centroid=1)
    km.train(x)
    return np.asarray(km.centroids, dtype=np.float32)


def _normalized32(X: np.ndarray) -> np.ndarray:
    x = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(x / norms)


def assign_clusters(baseline: Baseline, X: np.ndarray) -> np.ndarray:
    """Nearest frozen centroid (cosine) of each row of ``X``: int64 labels in [0, k)."""
    x = _normalized32(X)
    if x.shape[1] != baseline.centroids.shape[1]:
        raise BaselineMismatch(f"vectors have dimension {x.shape[1]}, baseline centroids {baseline.centroids.shape[1]}")
    sims = x @ baseline.centroids.T
    return np.argmax(sims, axis=1).astype(np.int64)


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def adequacy_warnings(hist: np.ndarray, typical_n: int, alpha: float = 0.01, tail_mass: float = 0.2,
                      min_per_cluster: int = 10) -> list[str]:
    """Why this baseline is too small for its cluster count, with the size that would do (empty if adequate).

    Two needs: each rare cluster's share must be estimated from enough records
    (``min_per_cluster``), and at the typical candidate size ``typical_n`` a
    rare cluster that vanished must be able to show it: P(0 of n) =
    (1 - share)^n must fall below alpha / clusters, which takes an expected
    count of ln(clusters / alpha).
    """
    from anchormix.diversity import tail_clusters

    hist = np.asarray(hist, dtype=np.float64)
    total, k = hist.sum(), len(hist)
    tail = tail_clusters(hist, tail_mass)
    if total <= 0 or not len(tail):
        return []
    rarest = float(hist[tail].min() / total)
    out = []
    if hist[tail].min() < min_per_cluster:
        need = int(math.ceil(min_per_cluster / max(rarest, 1e-9)))
        out.append(f"the rarest baseline cluster holds {int(hist[tail].min())} records (< {min_per_cluster}): its "
                   f"share is a guess; pin from about {need} human records, or use fewer clusters "
                   f"(diversity.baseline_clusters = {max(2, int(total // (min_per_cluster * 3)))})")
    expected = typical_n * rarest
    needed = math.log(k / alpha)
    if expected < needed:
        out.append(f"at a candidate of {typical_n} records the rarest cluster expects {expected:.1f} records, too few "
                   f"to ever show it vanished (needs {needed:.1f}): candidates of at least "
                   f"{int(math.ceil(needed / max(rarest, 1e-9)))} records, or fewer clusters")
    return out


def pin_baseline(
    vectors: np.ndarray,
    model_id: str,
    k: int,
    seed: int,
    directory: str | os.PathLike,
    overwrite: bool = False,
    texts: list[str] | None = None,
    ids: list[str] | None = None,
    typical_n: int | None = None,
) -> Baseline:
    """Fit k-means on human-baseline ``vectors`` and pin it, with its metrics and pool, in ``directory``.

    ``texts`` and ``ids`` (same order as ``vectors``) name the clusters by their
    distinctive terms and exemplar records. ``typical_n`` (the mix's target
    size) sizes the adequacy warnings. Raises BaselineExists if a baseline is
    already pinned there, unless ``overwrite=True`` (a deliberate re-pin;
    every later comparison changes).
    """
    directory = Path(directory)
    if not overwrite and ((directory / JSON_NAME).exists() or (directory / NPZ_NAME).exists()):
        raise BaselineExists(f"a baseline is already pinned in {directory}; pass overwrite=True to replace it")
    x = _normalized32(vectors)
    if len(x) < k:
        raise ValueError(f"{len(x)} vectors cannot fit {k} clusters")
    centroids = _kmeans(x, k, seed)
    sims = x @ centroids.T
    labels = np.argmax(sims, axis=1)
    hist = cluster_hist(labels, k)
    clusters: list[dict] = []
    if texts is not None and ids is not None:
        from anchormix.cluster_labels import label_clusters

        clusters = label_clusters(list(texts), [str(i) for i in ids], labels, x, centroids)
    adequacy = adequacy_warnings(hist, typical_n or len(x))
    baseline = Baseline(
        centroids=centroids,
        hist=hist,
        model_id=model_id,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        n=int(len(x)),
        k=int(k),
        seed=int(seed),
        vendi=vendi_score(x),
        effective_rank=effective_rank(x),
        cluster_entropy=cluster_entropy(labels, k),
        vectors=x,
        labels=labels.astype(np.int64),
        clusters=tuple(clusters),
        adequacy=tuple(adequacy),
    )
    directory.mkdir(parents=True, exist_ok=True)
    import io

    buf = io.BytesIO()
    np.savez(buf, centroids=centroids, hist=hist, vectors=x, labels=labels.astype(np.int64))
    npz = buf.getvalue()
    meta = {
        "model_id": model_id,
        "created_at": baseline.created_at,
        "n": baseline.n,
        "k": baseline.k,
        "seed": baseline.seed,
        "dim": int(centroids.shape[1]),
        "vendi": baseline.vendi,
        "effective_rank": baseline.effective_rank,
        "cluster_entropy": baseline.cluster_entropy,
        "clusters": clusters,
        "adequacy": adequacy,
        "npz_sha256": hashlib.sha256(npz).hexdigest(),
    }
    # The json names the npz's hash and is written last, so a crash in between
    # leaves a baseline that fails to load rather than one that loads wrong.
    _write_atomic(directory / NPZ_NAME, npz)
    _write_atomic(directory / JSON_NAME, (json.dumps(meta, indent=2) + "\n").encode())
    from dataclasses import replace

    return replace(baseline, digest=meta["npz_sha256"])


def load_baseline(directory: str | os.PathLike, expected_model_id: str) -> Baseline:
    """Load the baseline pinned in ``directory``.

    Raises FileNotFoundError when none is pinned and BaselineMismatch when it was
    made with another model id than ``expected_model_id`` or its files disagree.
    """
    directory = Path(directory)
    meta_path, npz_path = directory / JSON_NAME, directory / NPZ_NAME
    if not meta_path.exists() or not npz_path.exists():
        raise FileNotFoundError(f"no baseline pinned in {directory}")
    meta = json.loads(meta_path.read_text())
    if meta["model_id"] != expected_model_id:
        raise BaselineMismatch(
            f"baseline in {directory} was made with model {meta['model_id']!r}, not {expected_model_id!r}; "
            "vectors of two models cannot be compared (re-pin the baseline with the new model)"
        )
    raw = npz_path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != meta["npz_sha256"]:
        raise BaselineMismatch(f"{npz_path} does not match the hash recorded in {meta_path}")
    import io

    with np.load(io.BytesIO(raw)) as data:
        centroids = data["centroids"].astype(np.float32)
        hist = data["hist"].astype(np.int64)
        vectors = data["vectors"].astype(np.float32) if "vectors" in data.files else None
        labels = data["labels"].astype(np.int64) if "labels" in data.files else None
    return Baseline(
        centroids=centroids,
        hist=hist,
        model_id=meta["model_id"],
        created_at=meta["created_at"],
        n=int(meta["n"]),
        k=int(meta["k"]),
        seed=int(meta["seed"]),
        vendi=float(meta["vendi"]),
        effective_rank=float(meta["effective_rank"]),
        cluster_entropy=float(meta["cluster_entropy"]),
        vectors=vectors,
        labels=labels,
        clusters=tuple(meta.get("clusters", ())),
        adequacy=tuple(meta.get("adequacy", ())),
        digest=meta["npz_sha256"],
    )
