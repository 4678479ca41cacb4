"""Model-collapse reference simulations (Shumailov et al. 2024; Gerstgrasser et al. 2024).

A Gaussian is refitted by maximum likelihood (std with ddof=0) on n samples,
and the next generation is sampled from the fit. *Replace*: each fit sees only
the previous generation's samples, so E[σ²ₜ] = ((n-1)/n)ᵗ and the median σₜ at
n=100 is about 0.906 at t=10 and 0.369 at t=100. *Accumulate*: each fit sees
every sample drawn so far (generation 0 is real data), and σ stays near 1.

These give the diversity metrics a ground truth: as σ shrinks, Vendi, effective
rank and tail coverage must fall.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

MODES = ("replace", "accumulate")


def gaussian_refit_sigmas(
    n: int, generations: int, seeds: int, mode: str = "replace", seed: int = 0
) -> np.ndarray:
    """Fitted σ after each of ``generations`` refits, for ``seeds`` independent chains.

    Returns ``[seeds, generations + 1]``; column 0 is the true σ (1.0) and column
    t the MLE σ fitted at generation t. Chains run vectorized across seeds;
    accumulation uses running sums, so 1000 generations cost O(generations·n).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    rng = np.random.default_rng(seed)
    mu = np.zeros(seeds)
    sigma = np.ones(seeds)
    out = np.empty((seeds, generations + 1))
    out[:, 0] = 1.0
    total = np.zeros(seeds)
    total_sq = np.zeros(seeds)
    count = 0
    for t in range(1, generations + 1):
        x = mu[:, None] + sigma[:, None] * rng.standard_normal((seeds, n))
        if mode == "replace":
            mu = x.mean(axis=1)
            sigma = x.std(axis=1, ddof=0)
        else:
            total += x.sum(axis=1)
            total_sq += np.square(x).sum(axis=1)
            count += n
            mu = total / count
            sigma = np.sqrt(np.maximum(total_sq / count - mu**2, 0.0))
        out[:, t] = sigma
    return out


def gaussian_refit_vectors(
    n: int,
    d: int,
    generations: int,
    mode: str = "replace",
    seed: int = 0,
    offset: float = 1.0,
    eval_n: int | None = None,
) -> Iterator[tuple[int, np.ndarray, float]]:
    """Yield ``(t, samples, mean σ)`` for t = 0..generations of a d-dimensional refit.

    The chain fits on ``n`` samples per generation; the yielded samples are
    those ``n`` or, with ``eval_n``, that many fresh draws from the same
    generation's distribution (so metrics are measured with less noise than the
    chain itself sees).

    Each generation refits a per-dimension mean and MLE std. Samples are
    shifted by a fixed vector of norm ``offset * sqrt(d)``: diversity metrics
    use the cosine kernel, which only sees directions, and zero-centred Gaussian
    samples have uniformly spread directions at any σ. With the shift (like the
    shared direction real sentence embeddings have), points crowd around it as σ
    shrinks, so cosine diversity reflects spread. Generation 0 is the "human"
    data (σ = 1).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    rng = np.random.default_rng(seed)
    direction = rng.standard_normal(d)
    shift = offset * np.sqrt(d) * direction / np.linalg.norm(direction)
    mu = np.zeros(d)
    sigma = np.ones(d)
    pooled: list[np.ndarray] = []
    for t in range(generations + 1):
        x = mu + sigma * rng.standard_normal((n, d))
        shown = x if eval_n is None else mu + sigma * rng.standard_normal((eval_n, d))
        yield t, shown + shift, float(sigma.mean())
        if mode == "replace":
            fit_on = x
        else:
            pooled.append(x)
            fit_on = np.concatenate(pooled)
        mu = fit_on.mean(axis=0)
        sigma = fit_on.std(axis=0, ddof=0)
