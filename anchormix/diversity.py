"""Diversity metrics of a mix and the diversity gates that block collapsing mixes.

Model collapse loses the tails of the distribution first, then its variance
(Shumailov et al., 2024), so a mix is measured three ways:

* spread of its embeddings: Vendi score and effective rank;
* its histogram over k-means clusters *frozen from a pinned human baseline*
  (:mod:`anchormix.baseline`): cluster entropy, tail coverage (are the rare
  baseline clusters still present?) and Jensen-Shannon divergence against the
  baseline and the previous published generation;
* lexical distinct-n.

All vector metrics treat rows as L2-normalized embeddings (cosine geometry) and
must only compare vectors of one model id; :func:`anchormix.baseline.load_baseline`
enforces that.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from anchormix.settings_base import Float, Fraction, Int, Section
from anchormix.vectors import rows_normalized

if TYPE_CHECKING:  # pragma: no cover
    from anchormix.baseline import Baseline

_WORD = re.compile(r"\w+", re.UNICODE)

def _rows_normalized(X: np.ndarray) -> np.ndarray:
    return rows_normalized(X, np.float64)


def exp_entropy(weights: np.ndarray) -> float:
    """exp of the Shannon entropy of non-negative weights (their effective number); 0 for no mass."""
    w = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
    total = w.sum()
    if total <= 0:
        return 0.0
    p = w[w > 0] / total
    return float(np.exp(-(p * np.log(p)).sum()))


def gram_spectrum(X: np.ndarray, normalize_rows: bool = True) -> np.ndarray:
    """Eigenvalues of ``XᵀX/n`` (the non-zero ones equal those of the kernel ``XXᵀ/n``), from the smaller Gram.

    Rows are L2-normalized first by default (the cosine kernel). One
    ``min(n, d)``-square symmetric eigenproblem serves both :func:`vendi_score`
    and :func:`effective_rank`.
    """
    x = _rows_normalized(X) if normalize_rows else np.asarray(X, dtype=np.float64)
    n = len(x)
    if n == 0 or x.size == 0:
        return np.zeros(0)
    gram = x.T @ x if x.shape[1] <= n else x @ x.T
    return np.clip(np.linalg.eigvalsh(gram / n), 0.0, None)


def vendi_score(X: np.ndarray, spectrum: np.ndarray | None = None) -> float:
    """Vendi score (q=1) with the cosine kernel: exp of the entropy of the eigenvalues of K/n.

    Rows are L2-normalized, so ``K = X Xᵀ`` has a unit diagonal. The non-zero
    eigenvalues of ``K/n`` equal those of ``XᵀX/n`` (d x d), so this costs
    O(n·d²) instead of O(n³). Ranges from 1 (all rows identical) to
    min(n, d) (rows orthogonal). Duplicating every row leaves it unchanged.
    ``spectrum``: :func:`gram_spectrum` of ``X`` when already computed.
    """
    w = gram_spectrum(X) if spectrum is None else spectrum
    return exp_entropy(w) if len(w) else 0.0


def effective_rank(X: np.ndarray, normalize_rows: bool = True, spectrum: np.ndarray | None = None) -> float:
    """Effective rank (Roy & Vetterli, 2007): exp of the entropy of the normalized singular values.

    Rows are L2-normalized first by default, to match the cosine geometry of
    :func:`vendi_score` (which is the same quantity on squared singular values).
    The singular values are the square roots of the Gram matrix's eigenvalues,
    so no SVD of the n x d matrix is needed. ``spectrum``: :func:`gram_spectrum`
    of ``X`` (with the same ``normalize_rows``) when already computed.
    """
    w = gram_spectrum(X, normalize_rows) if spectrum is None else spectrum
    return exp_entropy(np.sqrt(w)) if len(w) else 0.0


def cluster_hist(labels: np.ndarray, k: int) -> np.ndarray:
    """Counts of ``labels`` (ints in [0, k)) as a length-k int array."""
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must lie in [0, {k})")
    return np.bincount(labels, minlength=k).astype(np.int64)


def cluster_entropy(labels: np.ndarray, k: int) -> float:
    """Shannon entropy of the cluster histogram, normalized by log k to [0, 1] (1 = uniform over k)."""
    h = cluster_hist(labels, k).astype(np.float64)
    if k <= 1 or h.sum() == 0:
        return 0.0
    p = h[h > 0] / h.sum()
    return float(-(p * np.log(p)).sum() / math.log(k))


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def distinct_n(texts: Iterable[str], n: int) -> float:
    """Lexical distinct-n: distinct word n-grams over all n-grams, pooled over ``texts`` (0 if none).

    Vectorized: words become integer ids, and each n-gram one 64-bit key
    (a polynomial over the ids, exact for vocabularies below 2^(64/n) words,
    hashed beyond), counted with ``np.unique``.
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    docs = [_words(text or "") for text in texts]
    lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
    if lengths.sum() == 0:
        return 0.0
    _, ids = np.unique(np.fromiter((w for d in docs for w in d), dtype=object, count=int(lengths.sum())),
                       return_inverse=True)
    ids = ids.astype(np.uint64) + np.uint64(1)
    # An n-gram starting at position i lies within one text when i + n <= the text's end.
    ends = np.repeat(np.cumsum(lengths), lengths)
    starts = np.flatnonzero(np.arange(len(ids)) + n <= ends)
    if len(starts) == 0:
        return 0.0
    key = np.zeros(len(starts), dtype=np.uint64)
    base = np.uint64(len(ids) + 2)
    with np.errstate(over="ignore"):
        for j in range(n):
            key = key * base + ids[starts + j]
    return len(np.unique(key)) / len(starts)


def js_divergence(p: Sequence[float], q: Sequence[float]) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) of two histograms (counts or shares)."""
    a = np.asarray(p, dtype=np.float64)
    b = np.asarray(q, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"histograms differ in length: {a.shape} vs {b.shape}")
    if a.sum() <= 0 or b.sum() <= 0:
        raise ValueError("histograms must have positive mass")
    a, b = a / a.sum(), b / b.sum()
    m = (a + b) / 2

    def kl(x: np.ndarray) -> float:
        nz = x > 0
        return float((x[nz] * np.log2(x[nz] / m[nz])).sum())

    return float(min(1.0, max(0.0, (kl(a) + kl(b)) / 2)))


@dataclass(frozen=True)
class TailRule:
    """Which baseline clusters are the tail, and when the tail is still covered.

    The tail is the smallest baseline clusters whose cumulative baseline mass
    stays <= ``tail_mass`` (at least one; empty baseline clusters are not part
    of the baseline and never count). A tail cluster is *covered* by a
    candidate of n records when it holds at least
    ``max(min_count, ceil(min_fraction * expected))`` of them, where
    ``expected = n * baseline share``. Tail coverage = covered / tail clusters.
    """

    tail_mass: float = 0.2
    min_count: int = 1
    min_fraction: float = 0.25


class DiversitySettings(Section):
    """The ``[diversity]`` config section.

    ``baseline_clusters`` (16): k-means clusters frozen from the pinned human
    baseline. ``baseline_seed`` (0): k-means seed. ``min_baseline_records`` (50):
    fewest human records a baseline may be pinned from. ``tail_mass`` (0.2),
    ``tail_min_count`` (1), ``tail_min_fraction`` (0.25): the :class:`TailRule`,
    as :attr:`tail`.
    """

    baseline_clusters: Int = Field(16, ge=2, le=65536)
    baseline_seed: Int = Field(0, ge=0)
    min_baseline_records: Int = Field(50, ge=2)
    tail_mass: Float = Field(0.2, gt=0.0, le=1.0)
    tail_min_count: Int = Field(1, ge=1)
    tail_min_fraction: Fraction = 0.25

    @property
    def tail(self) -> TailRule:
        """The tail rule these settings give."""
        return TailRule(tail_mass=self.tail_mass, min_count=self.tail_min_count, min_fraction=self.tail_min_fraction)


def tail_clusters(baseline_hist: Sequence[float], tail_mass: float = 0.2) -> np.ndarray:
    """Indices of the baseline's tail clusters under :class:`TailRule` (rarest first)."""
    h = np.asarray(baseline_hist, dtype=np.float64)
    present = np.flatnonzero(h > 0)
    if len(present) == 0:
        return np.zeros(0, dtype=np.int64)
    share = h / h.sum()
    order = present[np.lexsort((present, share[present]))]
    cumulative = np.cumsum(share[order])
    n_tail = max(1, int(np.searchsorted(cumulative, tail_mass + 1e-12, side="right")))
    return order[:n_tail].astype(np.int64)


def tail_coverage(baseline: "Baseline", labels: np.ndarray, rule: TailRule | None = None) -> tuple[float, list[int]]:
    """Share of the baseline's tail clusters still covered by a candidate, and the ones that lost coverage.

    ``labels`` are the candidate's clusters from :func:`anchormix.baseline.assign_clusters`.
    See :class:`TailRule` for the rule. Returns ``(coverage in [0, 1], lost cluster ids)``.
    """
    rule = rule or TailRule()
    hist = np.asarray(baseline.hist, dtype=np.float64)
    tail = tail_clusters(hist, rule.tail_mass)
    lost = uncovered_tail(hist, tail, cluster_hist(labels, len(hist)), rule)
    coverage = 1.0 - len(lost) / len(tail) if len(tail) else 1.0
    return coverage, lost


def tail_needed(share: float, n: int, rule: TailRule) -> int:
    """Records a tail cluster of baseline ``share`` needs in a candidate of ``n`` to count as covered."""
    return max(rule.min_count, math.ceil(rule.min_fraction * n * share - 1e-9))


def uncovered_tail(hist: Sequence[float], tail: Sequence[int], counts: Sequence[int], rule: TailRule) -> list[int]:
    """The ``tail`` clusters that a candidate with cluster ``counts`` leaves uncovered (:class:`TailRule`)."""
    hist = np.asarray(hist, dtype=np.float64)
    counts = np.asarray(counts)
    n = int(counts.sum())
    return [int(c) for c in tail if counts[c] < tail_needed(hist[c] / hist.sum(), n, rule)]


def diversity_report(
    X: np.ndarray,
    texts: Sequence[str],
    baseline: "Baseline",
    previous_hist: Sequence[float] | None = None,
    rule: TailRule | None = None,
) -> dict[str, Any]:
    """All diversity metrics of one candidate mix, as a JSON-ready dict.

    ``X``: the candidate's embeddings (same model as ``baseline``); ``texts``:
    its normalized texts; ``previous_hist``: cluster histogram of the previous
    published generation (None for the first); ``rule``: the tail rule
    (default :class:`TailRule`, or ``DiversitySettings.tail``). Keys: ``n``, ``vendi``,
    ``vendi_ratio`` (vs the baseline's own Vendi), ``effective_rank``,
    ``cluster_entropy``, ``tail_coverage``, ``lost_tail_clusters``,
    ``js_baseline``, ``js_previous`` (None without a previous generation),
    ``distinct_1``, ``distinct_2``, ``cluster_hist``, ``model_id``.
    """
    rule = rule or TailRule()
    X = np.asarray(X)
    if len(X) != len(texts):
        raise ValueError(f"{len(X)} vectors for {len(texts)} texts")
    k = len(baseline.hist)
    labels = baseline.assign(X) if len(X) else np.zeros(0, dtype=np.int64)
    hist = cluster_hist(labels, k)
    spectrum = gram_spectrum(X) if len(X) else np.zeros(0)
    vendi = vendi_score(X, spectrum) if len(X) else 0.0
    coverage, lost = tail_coverage(baseline, labels, rule)
    js_prev = None
    if previous_hist is not None and hist.sum() > 0 and np.sum(previous_hist) > 0:
        js_prev = js_divergence(hist, previous_hist)
    return {
        "n": int(len(X)),
        "model_id": baseline.model_id,
        "vendi": vendi,
        "vendi_ratio": vendi / baseline.vendi if baseline.vendi > 0 else 0.0,
        "effective_rank": effective_rank(X, spectrum=spectrum) if len(X) else 0.0,
        "cluster_entropy": cluster_entropy(labels, k),
        "tail_coverage": coverage,
        "lost_tail_clusters": lost,
        "js_baseline": js_divergence(hist, baseline.hist) if hist.sum() > 0 else 1.0,
        "js_previous": js_prev,
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "cluster_hist": [int(c) for c in hist],
    }
