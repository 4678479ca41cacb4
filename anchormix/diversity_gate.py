"""The calibrated diversity gate: is this candidate less diverse, or shifted, compared with healthy human
samples of the same size?

Every test is one-sided and judged against its own null (:mod:`anchormix.healthy_null`):

* **coverage (collapse)**: Vendi score, effective rank and k-NN coverage of the
  reference (Naeem et al. 2020) fall; each rare baseline cluster holds fewer
  records than its baseline share predicts (beta-binomial: the share itself is
  estimated from the baseline, so its uncertainty is part of the null);
* **fidelity**: the share of human or unknown records outside every reference
  k-NN ball rises. Incoherent text *raises* Vendi, so this is where it is
  caught. Declared synthetic records admitted within the cap are meant to
  differ, and are left out of this test;
* **shift**: JS divergence of the cluster histogram from the reference rises;
* **drift**: the previous published generation and this candidate differ
  (kernel two-sample test, MMD with a permutation null at matched size).

The p-values form one family: Holm's step-down procedure keeps the chance of
blocking a healthy candidate at or below ``[gates] alpha``. Absolute floors
(``vendi_ratio_floor`` and the rest) are an optional second line, off unless set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, ClassVar, Optional

import numpy as np
from pydantic import Field
from scipy import stats

from anchormix.healthy_null import NULLS, HealthyReference, band, js_bits, normalized, null_p_value, spectral
from anchormix.settings_base import Float, Int, Section

FLOOR_KEYS = ("vendi_ratio_floor", "tail_coverage_floor", "js_baseline_ceiling", "max_drop_from_previous")
RULE = ("Blocks when the candidate is less diverse than, or shifted from, healthy samples of the pinned human "
        "baseline at the candidate's own size: one-sided tests of Vendi, effective rank, k-NN coverage, rare-"
        "cluster counts, off-baseline human records, cluster shift and drift from the previous generation, "
        "with Holm's correction at family-wise alpha.")
_Floor = Annotated[Float, Field(ge=0.0, le=10.0)]  # an optional absolute floor or ceiling


class GateSettings(Section):
    """The ``[gates]`` config section.

    ``alpha`` (0.01): the family-wise rate at which healthy candidates may be
    blocked. ``null_draws`` (200): healthy subsamples per null. ``max_eval_n``
    (1000): largest evaluation size (bounds cost). ``knn_k`` (5): neighbours
    of a reference ball. ``drift_max_n`` (400) and ``drift_permutations`` (200):
    the matched size and permutations of the drift test. ``seed`` (0).
    Optional absolute floors, off unless set: ``vendi_ratio_floor``,
    ``tail_coverage_floor``, ``js_baseline_ceiling``, ``max_drop_from_previous``.
    """

    alpha: Float = Field(0.01, gt=0.0, lt=0.5, description=(
        "Family-wise rate at which healthy candidates may be blocked by the diversity gate"))
    null_draws: Int = Field(200, ge=50, le=100_000, description="Healthy baseline subsamples per null distribution")
    max_eval_n: Int = Field(1000, ge=20, le=100_000, description="Largest evaluation size")
    knn_k: Int = Field(5, ge=1, le=100, description="Neighbours of a reference k-NN ball")
    drift_max_n: Int = Field(400, ge=10, le=20_000, description="Matched size of the drift test")
    drift_permutations: Int = Field(200, ge=50, le=100_000, description="Permutations of the drift test")
    seed: Int = Field(0, ge=0, description="Seed of the nulls")
    vendi_ratio_floor: Optional[_Floor] = Field(
        None, description="Optional absolute floor on Vendi / baseline Vendi (off when empty)")
    tail_coverage_floor: Optional[_Floor] = Field(None, description="Optional absolute floor on rare-cluster coverage")
    js_baseline_ceiling: Optional[_Floor] = Field(None, description="Optional absolute ceiling on JS divergence (bits)")
    max_drop_from_previous: Optional[_Floor] = Field(
        None, description="Optional ceiling on the size-matched Vendi ratio's fall")

    KEYS: ClassVar[tuple[str, ...]] = (
        "alpha", "null_draws", "max_eval_n", "knn_k", "drift_max_n", "drift_permutations", "seed", *FLOOR_KEYS)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict (floors that are off are left out)."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


@dataclass
class GateRow:
    """One test of the family: the candidate's value beside healthy samples of its size."""

    gate: str
    family: str
    metric: str
    observed: float | None
    null_median: float | None
    band_lo: float | None
    band_hi: float | None
    p_value: float | None
    side: str
    threshold: float | None = None  # the Holm level this p-value was held to
    passed: bool = True
    detail: str = ""


@dataclass
class DiversityVerdict:
    """All tests of one candidate, their Holm decisions and what to tell a person."""

    n: int
    rows: list[GateRow]
    notes: list[str] = field(default_factory=list)
    under_covered: list[dict] = field(default_factory=list)
    eval_sizes: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when no test rejected and no optional floor failed."""
        return all(r.passed for r in self.rows)

    @property
    def failed(self) -> list[GateRow]:
        """The tests that block."""
        return [r for r in self.rows if not r.passed]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored with the candidate."""
        return {"n": self.n, "passed": self.passed, "rows": [asdict(r) for r in self.rows], "notes": self.notes,
                "under_covered": self.under_covered, "eval_sizes": self.eval_sizes}


def holm(p_values: Sequence[float], alpha: float) -> tuple[list[bool], list[float]]:
    """Holm's step-down: ``(rejected, level each p was compared with)``, family-wise error <= ``alpha``."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    rejected = [False] * len(p)
    levels = [alpha] * len(p)
    still = True
    for rank, i in enumerate(order):
        level = alpha / (len(p) - rank)
        levels[i] = level
        if still and p[i] <= level:
            rejected[i] = True
        else:
            still = False
    return rejected, levels


def tail_count_test(baseline_hist: Sequence[int], counts: Sequence[int], clusters: Sequence[int],
                    alpha: float) -> list[dict]:
    """Per rare cluster: P(at most the observed count at size n) under the baseline share.

    The share is known only from the baseline's own counts, so the null is the
    beta-binomial predictive of n draws given ``h_c`` of ``N`` baseline records
    (Jeffreys prior), which is wider than a binomial at the point estimate.
    Returns one dict per cluster: cluster, observed, expected, band_lo, band_hi, p_value.
    """
    hist = np.asarray(baseline_hist, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.int64)
    total, n = hist.sum(), int(counts.sum())
    out = []
    for c in clusters:
        a, b = hist[c] + 0.5, total - hist[c] + 0.5
        dist = stats.betabinom(n, a, b)
        out.append({"cluster": int(c), "observed": int(counts[c]), "expected": float(n * hist[c] / total),
                    "band_lo": float(dist.ppf(alpha)), "band_hi": float(dist.ppf(1 - alpha)),
                    "p_value": float(dist.cdf(counts[c]))})
    return out


def mmd_drift_test(previous: np.ndarray, current: np.ndarray, max_n: int = 400, permutations: int = 200,
                   seed: int = 0) -> dict[str, float]:
    """Kernel two-sample test between two generations at matched size.

    Both sides are cut to the same seeded size m <= ``max_n``, so a large and a
    small generation are compared like with like. Gaussian kernel on cosine
    distance, bandwidth the median pooled distance; biased MMD²; permutation
    null over the pooled 2m records. Returns statistic, null median and band,
    p-value and m.
    """
    rng = np.random.default_rng(seed)
    m = int(min(len(previous), len(current), max_n))
    if m < 5:
        return {"mmd2": float("nan"), "p_value": 1.0, "m": m, "null_median": float("nan"),
                "band_lo": float("nan"), "band_hi": float("nan")}
    a = normalized(previous)[rng.choice(len(previous), m, replace=False)]
    b = normalized(current)[rng.choice(len(current), m, replace=False)]
    z = np.concatenate([a, b])
    dist = np.clip(1.0 - (z @ z.T).astype(np.float64), 0.0, None)
    width = float(np.median(dist[np.triu_indices(2 * m, 1)])) or 1.0
    kernel = np.exp(-dist / width)
    signs = np.empty((2 * m, permutations + 1))
    base = np.r_[np.full(m, 1.0 / m), np.full(m, -1.0 / m)]
    signs[:, 0] = base
    for j in range(1, permutations + 1):
        signs[:, j] = base[rng.permutation(2 * m)]
    values = np.einsum("ij,ij->j", signs, kernel @ signs)
    observed, null = float(values[0]), values[1:]
    med, lo, hi = band(null, 0.01)
    return {"mmd2": observed, "p_value": null_p_value(observed, null, "high"), "m": m, "null_median": med,
            "band_lo": lo, "band_hi": hi}


def _seeded_subset(n: int, m: int, seed: int) -> np.ndarray:
    if m >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, m, replace=False))


def _name(names: Sequence[str] | None, c: int) -> str:
    if names and 0 <= c < len(names) and names[c]:
        return f"c{c} '{names[c]}'"
    return f"c{c}"


def judge(vectors: np.ndarray, labels: np.ndarray, groups: Sequence[str], baseline_hist: Sequence[int],
          tail: Sequence[int], ref: HealthyReference, settings: GateSettings, *,
          previous: np.ndarray | None = None, baseline_vendi: float | None = None,
          cluster_names: Sequence[str] | None = None, ids: Sequence[str] | None = None,
          previous_vendi_ratio: float | None = None, cache_dir=None) -> DiversityVerdict:
    """Run every test of the family on one candidate (see the module docstring).

    ``vectors`` and ``labels``: the candidate's embeddings and baseline
    clusters; ``groups``: "human" | "synthetic" | "unknown" per record (the
    fidelity test takes human and unknown); ``baseline_hist`` and ``tail``: the
    pinned histogram and its rare clusters; ``previous``: vectors of the
    previous published generation (no drift test without it);
    ``cluster_names``: readable labels by cluster id; ``ids``: record ids, to
    name off-baseline records; ``cache_dir``: where nulls persist between runs.
    """
    x = normalized(vectors)
    n = len(x)
    labels = np.asarray(labels, dtype=np.int64)
    groups = np.asarray(list(groups), dtype=object)
    s = settings
    notes: list[str] = []
    rows: list[GateRow] = []

    m_pool = ref.eval_size(n, s.max_eval_n, "pool")
    m_draw = ref.eval_size(n, s.max_eval_n, "draw")
    nulls = NULLS.get(ref, m_pool, m_draw, s.null_draws, s.seed, cache_dir)
    if m_pool < n or m_draw < n:
        notes.append(f"measured on seeded subsamples of {m_pool} (spectral) and {m_draw} (coverage, shift) of the "
                     f"{n} records: the baseline pool of {len(ref.pool)} supports healthy samples up to a third "
                     "of itself")

    def add(gate, family, metric, observed, null, side, detail=""):
        med, lo, hi = band(null, s.alpha)
        rows.append(GateRow(gate, family, metric, float(observed), med, lo, hi,
                            null_p_value(float(observed), null, side), side, detail=detail))

    xs = x[_seeded_subset(n, m_pool, s.seed)]
    vendi, erank = spectral(xs)
    add("vendi", "coverage", "vendi", vendi, nulls["vendi"], "low")
    add("effective_rank", "coverage", "effective_rank", erank, nulls["effective_rank"], "low")

    pick = _seeded_subset(n, m_draw, s.seed + 1)
    in_ball = ref.candidate_in_ball(x[pick])
    covered = in_ball.any(axis=0)
    add("knn_coverage", "coverage", "knn_coverage", covered.mean(), nulls["knn_coverage"], "low",
        _uncovered_note(ref, covered, cluster_names))
    hist_eval = np.bincount(labels[pick], minlength=ref.k_clusters)
    add("js_baseline", "shift", "js_baseline", js_bits(hist_eval, ref.ref_hist)[0], nulls["js_baseline"], "high",
        _shift_note(hist_eval, ref.ref_hist, cluster_names))

    judged = np.flatnonzero(np.isin(groups, ["human", "unknown"]))
    if len(judged) >= 10:
        fpick = judged[_seeded_subset(len(judged), min(len(judged), s.max_eval_n), s.seed + 2)]
        outside = ~ref.candidate_in_ball(x[fpick]).any(axis=1)
        named = [str(ids[i]) for i in fpick[outside][:3]] if ids is not None else []
        t = ref.outlier_test(int(outside.sum()), len(fpick), s.alpha)
        rows.append(GateRow("fidelity", "fidelity", "outlier_share", float(outside.mean()), t["null_median"],
                            t["band_lo"], t["band_hi"], t["p_value"], "high",
                            detail=f"{int(outside.sum())} of {len(fpick)} human/unknown records lie outside every "
                                   "human neighbourhood" + (f", e.g. {', '.join(named)}" if named else "")))
    else:
        notes.append(f"fidelity not tested: {len(judged)} human/unknown records (< 10)")

    counts = np.bincount(labels, minlength=len(baseline_hist))
    for t in tail_count_test(baseline_hist, counts, tail, s.alpha):
        c = t["cluster"]
        rows.append(GateRow(f"tail {_name(cluster_names, c)}", "coverage", "rare_cluster_count", t["observed"],
                            t["expected"], t["band_lo"], t["band_hi"], t["p_value"], "low",
                            detail=f"{t['observed']} records where the baseline share predicts {t['expected']:.1f}"))

    if previous is not None and len(previous) >= 5:
        d = mmd_drift_test(previous, x, s.drift_max_n, s.drift_permutations, s.seed)
        rows.append(GateRow("drift_previous", "drift", "mmd2", d["mmd2"], d["null_median"], d["band_lo"],
                            d["band_hi"], d["p_value"], "high",
                            detail=f"previous generation vs candidate at matched size {d['m']}"))
    else:
        notes.append("drift not tested: no previous published generation")

    tested = [r for r in rows if r.p_value is not None]
    rejected, levels = holm([r.p_value for r in tested], s.alpha)
    for row, rej, level in zip(tested, rejected, levels):
        row.threshold = level
        row.passed = not rej
        row.detail = _verdict_text(row, m_pool if row.family == "coverage" and row.metric != "knn_coverage" else n) \
            + (f"; {row.detail}" if row.detail else "")

    rows.extend(_floors(s, vendi, baseline_vendi, tail, counts, baseline_hist, rows, previous_vendi_ratio))
    under = [{"cluster": int(r.gate.split()[1].split("'")[0][1:]), "name": r.gate.split(" ", 1)[1],
              "observed": r.observed, "expected": r.null_median, "p_value": r.p_value}
             for r in rows if r.metric == "rare_cluster_count" and not r.passed]
    return DiversityVerdict(n=n, rows=rows, notes=notes, under_covered=under,
                            eval_sizes={"spectral": m_pool, "coverage": m_draw})


def _verdict_text(row: GateRow, size: int) -> str:
    word = {"low": "below", "high": "above"}[row.side]
    fmt = (lambda v: f"{v:.0f}") if row.metric == "rare_cluster_count" else (lambda v: f"{v:.4g}")
    state = "BLOCKS" if not row.passed else "ok"
    return (f"{row.metric} {fmt(row.observed)} vs healthy median {fmt(row.null_median)} "
            f"(band {fmt(row.band_lo)}–{fmt(row.band_hi)}); p={row.p_value:.3g} "
            f"{'<=' if not row.passed else '>'} Holm level {row.threshold:.3g} ({word} is bad): {state}")


def _uncovered_note(ref: HealthyReference, covered: np.ndarray, names) -> str:
    ref_labels = ref.labels[ref.ref]
    missing = np.bincount(ref_labels[~covered], minlength=ref.k_clusters)
    sizes = np.maximum(np.bincount(ref_labels, minlength=ref.k_clusters), 1)
    worst = [c for c in np.argsort(-(missing / sizes))[:3] if missing[c]]
    if not worst:
        return "every reference neighbourhood is covered"
    return "least covered: " + ", ".join(f"{_name(names, int(c))} ({missing[c]}/{sizes[c]} uncovered)" for c in worst)


def _shift_note(hist: np.ndarray, ref_hist: np.ndarray, names) -> str:
    share = hist / max(hist.sum(), 1)
    ref_share = ref_hist / max(ref_hist.sum(), 1)
    diff = share - ref_share
    over, under = int(np.argmax(diff)), int(np.argmin(diff))
    return (f"most over-represented {_name(names, over)} ({share[over]:.1%} vs {ref_share[over]:.1%}), "
            f"most under-represented {_name(names, under)} ({share[under]:.1%} vs {ref_share[under]:.1%})")


def _floors(s: GateSettings, vendi, baseline_vendi, tail, counts, baseline_hist, rows, previous_vendi_ratio):
    """The optional absolute second line: hand-set floors, only when configured."""
    out = []
    ratio = vendi / baseline_vendi if baseline_vendi else None
    if s.vendi_ratio_floor is not None and ratio is not None:
        ok = ratio >= s.vendi_ratio_floor
        out.append(GateRow("vendi_ratio_floor", "floor", "vendi_ratio", ratio, None, None, None, None, "low",
                           s.vendi_ratio_floor, ok, f"vendi_ratio {ratio:.4f} {'>=' if ok else '<'} floor "
                                                    f"{s.vendi_ratio_floor}"))
    if s.tail_coverage_floor is not None and len(tail):
        hist = np.asarray(baseline_hist, dtype=np.float64)
        present = np.mean([counts[c] >= max(1, math.ceil(0.25 * counts.sum() * hist[c] / hist.sum())) for c in tail])
        ok = present >= s.tail_coverage_floor
        out.append(GateRow("tail_coverage_floor", "floor", "tail_coverage", float(present), None, None, None, None,
                           "low", s.tail_coverage_floor, ok, f"tail_coverage {present:.3f} vs floor "
                                                             f"{s.tail_coverage_floor}"))
    if s.js_baseline_ceiling is not None:
        js = next(r.observed for r in rows if r.gate == "js_baseline")
        ok = js <= s.js_baseline_ceiling
        out.append(GateRow("js_baseline_ceiling", "floor", "js_baseline", js, None, None, None, None, "high",
                           s.js_baseline_ceiling, ok, f"js_baseline {js:.4f} vs ceiling {s.js_baseline_ceiling}"))
    if s.max_drop_from_previous is not None and previous_vendi_ratio and ratio is not None:
        drop = 1 - ratio / previous_vendi_ratio
        ok = drop <= s.max_drop_from_previous
        out.append(GateRow("max_drop_from_previous", "floor", "vendi_ratio_drop", drop, None, None, None, None, "high",
                           s.max_drop_from_previous, ok, f"size-matched Vendi ratio fell {drop:.1%} vs ceiling "
                                                        f"{s.max_drop_from_previous:.1%}"))
    return out


_REFERENCES: dict[tuple, HealthyReference] = {}


class BaselineWithoutPool(RuntimeError):
    """The pinned baseline predates the calibrated gate: it kept no pool of vectors to draw from."""


def reference_for(baseline, settings: GateSettings) -> HealthyReference:
    """The healthy reference of a pinned baseline, built once per process (keyed by the baseline's hash)."""
    if baseline.vectors is None or baseline.labels is None:
        raise BaselineWithoutPool(
            "the pinned baseline keeps no pool of human vectors (pinned by an older anchormix); re-pin it: "
            "materialize `diversity_baseline` with `replace: true` in the Launchpad")
    key = (baseline.digest or baseline.created_at, settings.knn_k, settings.seed)
    if key not in _REFERENCES:
        _REFERENCES[key] = HealthyReference.build(baseline.vectors, baseline.labels, baseline.k, settings.knn_k,
                                                  settings.seed)
    return _REFERENCES[key]


def judge_candidate(baseline, vectors: np.ndarray, groups: Sequence[str], settings: GateSettings, tail_mass: float,
                    *, previous: np.ndarray | None = None, ids: Sequence[str] | None = None,
                    previous_vendi_ratio: float | None = None, cache_dir=None) -> DiversityVerdict:
    """:func:`judge` against a pinned :class:`~anchormix.baseline.Baseline` (clusters, tail, names, reference)."""
    from anchormix.baseline import assign_clusters
    from anchormix.diversity import tail_clusters

    ref = reference_for(baseline, settings)
    labels = assign_clusters(baseline, vectors)
    return judge(vectors, labels, groups, baseline.hist, tail_clusters(baseline.hist, tail_mass), ref, settings,
                 previous=previous, baseline_vendi=baseline.vendi, cluster_names=baseline.cluster_names, ids=ids,
                 previous_vendi_ratio=previous_vendi_ratio, cache_dir=cache_dir)
