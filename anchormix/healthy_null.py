"""What healthy data looks like at a given size: null distributions drawn from the pinned human pool.

A diversity metric means nothing on its own: Vendi grows with the number of
records, and the JS divergence of two samples of one distribution shrinks with
it. So every metric of a candidate of n records is compared with the same
metric on B subsamples of n records from the pinned human baseline pool.

The pool is split once, by a seeded permutation, into

* a **reference** part R (40 %): the k-NN balls of the coverage and fidelity
  measures (Naeem et al. 2020, "Reliable fidelity and diversity metrics for
  generative models") and the cluster histogram the JS shift is measured
  against;
* a **draw** part P (60 %): the subsamples for the metrics that compare with R.

A candidate is independent of R, and so are draws from P; drawing them from R
itself would let a subsample cover its own points. Spectral metrics (Vendi,
effective rank) need no reference and draw from the whole pool.

**Finite pool.** A subsample of m from a pool of N varies less than a fresh
sample of m (finite-population correction), and the pool itself is one sample
of the population. For a metric that is a smooth function of means, a fresh
candidate deviates from the null's centre with variance ∝ 1/m + 1/N, while the
null varies with ∝ (1 − m/N)/m. The null's spread around its median is
therefore widened by ``sqrt((1 + m/N) / (1 − m/N))``, and the evaluation size m
is capped at a third of the source pool, where the factor is at most 1.41. A
larger candidate is measured on a seeded m-subsample of itself, and the
verdict says so. Sampling with replacement instead would put duplicates in the
null draws, which lowers Vendi and coverage and so biases the null itself.

**p-values.** Empirical, ``(1 + #more extreme + #ties / 2) / (B + 1)`` (mid-p), while at least 10
draws are as extreme as the candidate. Beyond that, B draws cannot resolve a
small p (the minimum is 1/(B+1), too coarse for a family-wise α of 0.01 over
ten tests), so the tail is a fit to the (widened) null: normal for metrics
that fall under collapse, gamma (moment-matched, right-skewed) for the
non-negative divergences that rise.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from anchormix.diversity import exp_entropy
from anchormix.vectors import rows_normalized

MIN_EXCEEDANCES = 10
# Candidate and null draws meet the same reference balls, so the reference's own sampling noise cancels;
# the draw half's does not (a finite P sits a little off the population), so P gets the larger share.
REFERENCE_SHARE = 0.4
_SELF = 1.0 - 1e-6  # cosine similarity at which two vectors are the same record


def normalized(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit norm, float32, C-contiguous (cosine geometry)."""
    return rows_normalized(X, np.float32)


def spectral(x: np.ndarray) -> tuple[float, float]:
    """``(vendi, effective_rank)`` of unit rows from one d×d Gram matrix.

    The eigenvalues λ of XᵀX/n are those of the cosine kernel K/n (Vendi), and
    their square roots are the singular values of X/√n (effective rank).
    """
    if len(x) == 0:
        return 0.0, 0.0
    gram = (x.T @ x).astype(np.float64) / len(x)
    lam = np.clip(np.linalg.eigvalsh(gram), 0.0, None)
    return exp_entropy(lam), exp_entropy(np.sqrt(lam))


def widen(null: np.ndarray, m: int, source: int) -> np.ndarray:
    """The null's spread around its median widened for a finite source pool (module docstring)."""
    frac = min(m / max(source, 1), 0.9)
    factor = math.sqrt((1 + frac) / (1 - frac))
    centre = np.median(null)
    return centre + factor * (np.asarray(null, dtype=np.float64) - centre)


def null_p_value(observed: float, null: np.ndarray, side: str) -> float:
    """One-sided p-value of ``observed`` against ``null``: ``side`` is "low" (collapse) or "high" (shift).

    Empirical while at least :data:`MIN_EXCEEDANCES` draws are as extreme,
    otherwise a fitted tail (module docstring).
    """
    null = np.asarray(null, dtype=np.float64)
    if not np.isfinite(observed):
        return 1.0
    beyond = (null < observed).sum() if side == "low" else (null > observed).sum()
    # Ties count half (mid-p): share-like metrics are discrete at small sizes, and counting ties in full
    # would make their p-values pile up near 1 instead of being spread like a continuous metric's.
    extreme = float(beyond + 0.5 * (null == observed).sum())
    empirical = (1 + extreme) / (len(null) + 1)
    if extreme >= MIN_EXCEEDANCES:
        return float(empirical)
    mean, sd = float(null.mean()), float(null.std(ddof=1)) if len(null) > 1 else 0.0
    if sd <= 0:
        return float(empirical)  # a degenerate null cannot say more than its draws do
    if side == "low":
        fitted = stats.norm.cdf(observed, loc=mean, scale=sd)
    elif mean > 0:
        shape, scale = mean * mean / (sd * sd), sd * sd / mean
        fitted = stats.gamma.sf(observed, shape, scale=scale)
    else:
        fitted = stats.norm.sf(observed, loc=mean, scale=sd)
    return float(min(empirical, fitted))


def band(null: np.ndarray, alpha: float) -> tuple[float, float, float]:
    """``(median, alpha-quantile, (1 - alpha)-quantile)`` of the null."""
    lo, med, hi = np.quantile(np.asarray(null, dtype=np.float64), [alpha, 0.5, 1 - alpha])
    return float(med), float(lo), float(hi)


def js_bits(counts: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence (bits) of each row of ``counts`` from the ``reference`` histogram."""
    a = np.atleast_2d(np.asarray(counts, dtype=np.float64))
    a = a / np.maximum(a.sum(axis=1, keepdims=True), 1e-300)
    b = np.asarray(reference, dtype=np.float64)
    b = b / b.sum()
    m = (a + b) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        ka = np.where(a > 0, a * np.log2(a / m), 0.0).sum(axis=1)
        kb = np.where(b > 0, b * np.log2(b / m), 0.0).sum(axis=1)
    return np.clip((ka + kb) / 2, 0.0, 1.0)


@dataclass
class HealthyReference:
    """The pinned pool prepared for null draws: split, k-NN balls, cluster labels.

    ``pool`` unit vectors [N, d]; ``labels`` baseline cluster of each pool row;
    ``ref`` / ``draw``: the row indices of R and P; ``ball``: cosine similarity
    to each R point's k-th nearest other R point (inside the ball at or above
    it); ``draw_in_ball`` [|P|, |R|]: which P rows fall in which R balls.
    """

    pool: np.ndarray
    labels: np.ndarray
    k_clusters: int
    ref: np.ndarray
    draw: np.ndarray
    ball: np.ndarray
    draw_in_ball: np.ndarray
    knn_k: int
    key: str
    outside: int = 0

    @classmethod
    def build(cls, pool: np.ndarray, labels: np.ndarray, k_clusters: int, knn_k: int = 5, seed: int = 0,
              max_pool: int = 8000) -> "HealthyReference":
        """Split and index the pool; pools above ``max_pool`` rows use a seeded subset (memory is |P|·|R|)."""
        x = normalized(pool)
        labels = np.asarray(labels, dtype=np.int64)
        rng = np.random.default_rng(seed)
        if len(x) > max_pool:
            keep = np.sort(rng.choice(len(x), max_pool, replace=False))
            x, labels = x[keep], labels[keep]
        if len(x) < 2 * (knn_k + 1):
            raise ValueError(f"a baseline pool of {len(x)} records is too small for k-NN balls of k={knn_k}")
        order = rng.permutation(len(x))
        cut = int(len(x) * REFERENCE_SHARE)
        ref, draw = np.sort(order[:cut]), np.sort(order[cut:])
        r = x[ref]
        sims = r @ r.T
        np.fill_diagonal(sims, -np.inf)
        ball = -np.partition(-sims, knn_k - 1, axis=1)[:, knn_k - 1]
        draw_in_ball = (x[draw] @ r.T) >= ball[None, :]
        # The outside rate is estimated on every pool record: P against R's balls, and each R record against
        # the other R records' balls (its own is left out, as sims' diagonal is -inf), so a small pool's
        # estimate does not rest on P alone.
        outside = int((~draw_in_ball.any(axis=1)).sum()) + int((~(sims >= ball[None, :]).any(axis=1)).sum())
        digest = hashlib.sha256(x.tobytes() + labels.tobytes() + f"{knn_k}:{seed}".encode()).hexdigest()[:16]
        return cls(x, labels, int(k_clusters), ref, draw, ball.astype(np.float32), draw_in_ball, knn_k, digest,
                   outside)

    @property
    def ref_hist(self) -> np.ndarray:
        """Cluster histogram of the reference half."""
        return np.bincount(self.labels[self.ref], minlength=self.k_clusters)

    def eval_size(self, n: int, max_eval_n: int, source: str) -> int:
        """Records a candidate of ``n`` is measured on for a metric drawing from ``source`` ("pool" | "draw")."""
        size = len(self.pool) if source == "pool" else len(self.draw)
        return int(max(2, min(n, max_eval_n, size // 3)))

    def candidate_in_ball(self, x: np.ndarray) -> np.ndarray:
        """[m, |R|] booleans: candidate row inside R point's ball, never counting a record as its own neighbour."""
        sims = x @ self.pool[self.ref].T
        sims[sims >= _SELF] = -np.inf
        return sims >= self.ball[None, :]

    def null_draws(self, m_pool: int, m_draw: int, draws: int, seed: int) -> dict[str, np.ndarray]:
        """B healthy values of each metric: vendi and effective rank at ``m_pool`` (whole pool), coverage and
        JS shift at ``m_draw`` (from P, against R). Widened for the finite pool."""
        rng = np.random.default_rng(seed)
        out = {name: np.empty(draws) for name in ("vendi", "effective_rank", "knn_coverage", "js_baseline")}
        ref_hist = self.ref_hist
        draw_labels = self.labels[self.draw]
        for b in range(draws):
            idx = rng.choice(len(self.pool), m_pool, replace=False)
            out["vendi"][b], out["effective_rank"][b] = spectral(self.pool[idx])
            jdx = rng.choice(len(self.draw), m_draw, replace=False)
            out["knn_coverage"][b] = self.draw_in_ball[jdx].any(axis=0).mean()
            out["js_baseline"][b] = js_bits(np.bincount(draw_labels[jdx], minlength=self.k_clusters), ref_hist)[0]
        for name in ("vendi", "effective_rank"):
            out[name] = widen(out[name], m_pool, len(self.pool))
        for name in ("knn_coverage", "js_baseline"):
            out[name] = widen(out[name], m_draw, len(self.draw))
        return out

    def outlier_test(self, outside: int, m: int, alpha: float) -> dict[str, float]:
        """P(at least ``outside`` of ``m`` healthy records fall outside every reference ball).

        Each record is outside with a rate estimated from the pool (o of N: P
        against the reference balls, R records against each other's), so the
        null is the beta-binomial predictive (Jeffreys prior): it
        carries the estimate's own uncertainty, and a draw part with no
        outlier at all does not make one candidate outlier impossible. Mid-p.
        """
        o = self.outside
        dist = stats.betabinom(m, o + 0.5, len(self.pool) - o + 0.5)
        p = float(dist.sf(outside) + 0.5 * dist.pmf(outside))
        return {"p_value": min(1.0, p), "null_median": float(dist.median()) / m, "band_lo": float(dist.ppf(alpha)) / m,
                "band_hi": float(dist.ppf(1 - alpha)) / m}


class NullCache:
    """Null distributions keyed by (reference, sizes, draws, seed): a nightly gate pays for each size once.

    Held in memory, and on disk under ``directory`` when one is given (the
    pinned baseline's ``nulls/``), since every Dagster run is a new process.
    The reference key hashes the pool, so a re-pin never reads stale nulls.
    """

    def __init__(self, limit: int = 64):
        self._items: dict[tuple, dict[str, np.ndarray]] = {}
        self._limit = limit
        self.hits = 0
        self.misses = 0

    def get(self, ref: HealthyReference, m_pool: int, m_draw: int, draws: int, seed: int,
            directory: Path | None = None) -> dict[str, np.ndarray]:
        """The nulls for these sizes: from memory, else from ``directory``, else computed (and stored)."""
        key = (ref.key, m_pool, m_draw, draws, seed)
        if key in self._items:
            self.hits += 1
            return self._items[key]
        path = Path(directory) / ("-".join(map(str, key)) + ".npz") if directory is not None else None
        if path is not None and path.exists():
            with np.load(path) as data:
                nulls = {k: data[k] for k in data.files}
            self.hits += 1
        else:
            self.misses += 1
            nulls = ref.null_draws(m_pool, m_draw, draws, seed)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
                np.savez(tmp, **nulls)
                os.replace(tmp, path)
        if len(self._items) >= self._limit:
            self._items.pop(next(iter(self._items)))
        self._items[key] = nulls
        return nulls



NULLS = NullCache()
