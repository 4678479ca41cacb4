"""The value of each human source in a mix: which licensed human data is worth paying for?

For every source with human records in a candidate, leave its human records
out and measure what the mix loses: Vendi score, effective rank and tail
coverage of the baseline's rare clusters. A loss means something only beside
the loss of *as many human records chosen at random*: removing 300 records
lowers Vendi whatever they are, and a 5-record source shifts every metric a
little by chance. So each loss is judged like the calibrated gates judge a
candidate (:mod:`anchormix.diversity_gate`):

* **Vendi, effective rank**: ``null_draws`` seeded random removals of the
  same number of the mix's human records give the healthy spread of the
  metric; the p-value is the chance a random removal leaves the mix as low as
  leaving the source out does (:func:`anchormix.healthy_null.null_p_value`);
* **tail coverage**: exact. A random removal of k of the h human records takes
  a hypergeometric number of each rare cluster's human records, so the chance
  that it uncovers cluster c is a hypergeometric tail, and the p-value of
  losing L clusters is at most E[clusters lost] / L (Markov's inequality);
  no draw count limits how small it can be.

All (source, metric) p-values form one family, held to ``[value] alpha`` by
Holm's step-down, so among many sources none is called valuable by noise.
Beside the tests, each source's rare clusters: those whose human records in
the mix are all its own (*sole*), or mostly, at least ``main_share`` of them
(*main*), named by their terms. Synthetic records that fill a rare cluster do
not count: they are what a buyer of human data wants to do without.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field
from scipy import stats

from anchormix.cluster_labels import cluster_name
from anchormix.diversity import TailRule, exp_entropy, tail_needed, uncovered_tail
from anchormix.diversity_gate import holm
from anchormix.healthy_null import band, normalized, null_p_value
from anchormix.settings_base import Float, Fraction, Int, Section

METRICS = ("vendi", "effective_rank", "tail_coverage")


class ValueSettings(Section):
    """The ``[value]`` config section: how the value of each human source is judged.

    ``alpha`` (0.05): family-wise rate at which a source is called valuable by
    chance (Holm over every source and metric). ``null_draws`` (100): random
    removals per removal size; each costs one d×d eigenproblem, and the fitted
    normal tail of :func:`~anchormix.healthy_null.null_p_value` resolves p
    below 1/draws. ``main_share`` (0.5): the share of a rare cluster's human
    records in the mix that makes the largest provider its *main* one.
    ``seed`` (0): seed of the random removals.
    """

    alpha: Float = Field(0.05, gt=0.0, lt=0.5, description="Family-wise rate of calling a source valuable by chance")
    null_draws: Int = Field(100, ge=20, le=100_000, description="Random removals of as many human records per size")
    main_share: Fraction = Field(0.5, description="Share of a rare cluster's human records that makes a main provider")
    seed: Int = Field(0, ge=0, description="Seed of the random removals")


@dataclass
class ValueTest:
    """One metric's loss when a source leaves, beside losses from random removals of as many human records."""

    metric: str
    full: float
    without: float
    loss: float
    null_median: float | None = None
    band_lo: float | None = None
    band_hi: float | None = None
    z: float | None = None
    p_value: float | None = None
    threshold: float | None = None
    significant: bool = False


@dataclass
class SourceValue:
    """What one human source brings to the mix."""

    source: str
    records: int
    share: float
    tests: list[ValueTest] = field(default_factory=list)
    sole_clusters: list[str] = field(default_factory=list)
    main_clusters: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def significant(self) -> list[str]:
        """The metrics whose loss beats random removal."""
        return [t.metric for t in self.tests if t.significant]

    @property
    def verdict(self) -> str:
        """``valuable`` (some loss beats random removal); ``typical`` (no loss beyond what as many random human
        records cost: its records are worth their number, no more); or why it was not judged."""
        if self.note:
            return f"not judged: {self.note}"
        return "valuable" if self.significant else "typical"

    def test(self, metric: str) -> ValueTest | None:
        """The test of ``metric``, if run."""
        return next((t for t in self.tests if t.metric == metric), None)


@dataclass
class ValueReport:
    """Every human source of one candidate, most valuable first."""

    n: int
    human: int
    sources: list[SourceValue]
    alpha: float
    null_draws: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored with the candidate."""
        rows = []
        for s in self.sources:
            row = asdict(s)
            row["verdict"] = s.verdict
            rows.append(row)
        return {"n": self.n, "human": self.human, "alpha": self.alpha, "null_draws": self.null_draws,
                "notes": list(self.notes), "sources": rows}


def _rank_key(s: SourceValue) -> tuple:
    zs = [t.z for t in s.tests if t.z is not None and np.isfinite(t.z)]
    return (-len(s.significant), -len(s.sole_clusters), -len(s.main_clusters), -(max(zs) if zs else -np.inf),
            -s.records, s.source)


def _spectral(gram: np.ndarray, n: int) -> tuple[float, float]:
    """Vendi and effective rank of n unit rows from their d×d Gram matrix."""
    if n <= 0:
        return 0.0, 0.0
    lam = np.clip(np.linalg.eigvalsh(gram / n), 0.0, None)
    return exp_entropy(lam), exp_entropy(np.sqrt(lam))


class _Spectra:
    """Vendi and effective rank of the mix with some human rows left out, by Gram downdates."""

    def __init__(self, x: np.ndarray, human: np.ndarray, draws: int, seed: int):
        self.x = x.astype(np.float64)
        self.gram = self.x.T @ self.x
        self.n = len(x)
        self.human = human
        self.draws = draws
        self.seed = seed
        self._nulls: dict[int, np.ndarray] = {}

    def without(self, rows: np.ndarray) -> tuple[float, float]:
        part = self.x[rows]
        return _spectral(self.gram - part.T @ part, self.n - len(rows))

    def null(self, k: int) -> np.ndarray:
        """[draws, 2]: Vendi and effective rank after removing k random human rows (cached per k)."""
        if k not in self._nulls:
            rng = np.random.default_rng([self.seed, k])
            self._nulls[k] = np.array([self.without(rng.choice(self.human, k, replace=False))
                                       for _ in range(self.draws)])
        return self._nulls[k]


def _tail_test(counts: np.ndarray, human_counts: np.ndarray, removed: np.ndarray, hist: np.ndarray,
               tail: np.ndarray, rule: TailRule, human: int) -> ValueTest:
    """Tail coverage without the source, against removing as many random human records (exact, module doc)."""
    n, k = int(counts.sum()), int(removed.sum())
    full_lost = set(uncovered_tail(hist, tail, counts, rule))
    without_lost = set(uncovered_tail(hist, tail, counts - removed, rule))
    size = max(len(tail), 1)
    full, without = 1.0 - len(full_lost) / size, 1.0 - len(without_lost) / size
    lost = len(without_lost - full_lost)
    # P(random removal uncovers c) for each rare cluster the full mix covers.
    probs = []
    for c in tail:
        if int(c) in full_lost:
            continue
        need = tail_needed(hist[c] / hist.sum(), n - k, rule)
        probs.append(float(stats.hypergeom.sf(int(counts[c]) - need, human, int(human_counts[c]), k)))
    probs = np.asarray(probs)
    expected = float(probs.sum())
    sd = float(np.sqrt((probs * (1 - probs)).sum()))
    p = min(1.0, expected / lost) if lost else 1.0
    z = (lost - expected) / sd if sd > 0 else None
    return ValueTest("tail_coverage", full, without, full - without, expected / size, None, None,
                     None if z is None else float(z), float(p))


def source_values(vectors: np.ndarray, labels: Sequence[int], sources: Sequence[str], groups: Sequence[str],
                  baseline_hist: Sequence[int], tail: Sequence[int], settings: ValueSettings | None = None, *,
                  rule: TailRule | None = None, clusters: list[dict] | None = None) -> ValueReport:
    """The value of each human source of one candidate (see the module docstring).

    ``vectors``, ``labels``, ``sources``, ``groups``: the candidate's
    embeddings, baseline clusters, sources and provenance groups ("human" |
    "synthetic" | "unknown"), one per record. ``baseline_hist`` and ``tail``:
    the pinned histogram and its rare clusters; ``rule``: the tail rule the
    coverage metric uses; ``clusters``: the baseline's cluster labels, to name
    rare clusters by their terms. A source is a human source when it has human
    records in the mix; leaving it out removes those records only.
    """
    s = settings or ValueSettings()
    rule = rule or TailRule()
    labels = np.asarray(labels, dtype=np.int64)
    sources = np.asarray([str(v) for v in sources], dtype=object)
    is_human = np.asarray([g == "human" for g in groups], dtype=bool)
    hist = np.asarray(baseline_hist, dtype=np.float64)
    tail = np.asarray(tail, dtype=np.int64)
    n, human_rows = len(labels), np.flatnonzero(is_human)
    report = ValueReport(n, len(human_rows), [], s.alpha, s.null_draws)
    if n < 2 or not len(human_rows):
        report.notes.append("no human records in the mix" if n else "an empty mix")
        return report

    k_clusters = len(hist)
    in_range = (labels >= 0) & (labels < k_clusters)
    counts = np.bincount(labels[in_range], minlength=k_clusters)
    human_counts = np.bincount(labels[in_range & is_human], minlength=k_clusters)
    spectra = _Spectra(normalized(vectors), human_rows, s.null_draws, s.seed)
    full_vendi, full_erank = _spectral(spectra.gram, n)

    for source in sorted(set(sources[human_rows])):
        rows = np.flatnonzero(is_human & (sources == source))
        value = SourceValue(source, len(rows), len(rows) / n)
        value.sole_clusters, value.main_clusters = _provided_clusters(
            source, labels[is_human], sources[is_human], tail, s.main_share, clusters)
        if len(rows) == len(human_rows):
            value.note = "the only human source in the mix"
        elif n - len(rows) < 2:
            value.note = "too few records would be left"
        else:
            vendi, erank = spectra.without(rows)
            null = spectra.null(len(rows))
            for j, (metric, full, without) in enumerate((("vendi", full_vendi, vendi),
                                                          ("effective_rank", full_erank, erank))):
                losses = full - null[:, j]
                med, lo, hi = band(losses, s.alpha)
                sd = float(losses.std(ddof=1))
                value.tests.append(ValueTest(
                    metric, float(full), float(without), float(full - without), med, lo, hi,
                    float((full - without - losses.mean()) / sd) if sd > 0 else None,
                    null_p_value(float(without), null[:, j], "low")))
            removed = np.bincount(labels[rows][in_range[rows]], minlength=k_clusters)
            value.tests.append(_tail_test(counts, human_counts, removed, hist, tail, rule, len(human_rows)))
        report.sources.append(value)

    tested = [t for v in report.sources for t in v.tests if t.p_value is not None]
    rejected, levels = holm([t.p_value for t in tested], s.alpha)
    for t, rej, level in zip(tested, rejected, levels):
        # A loss no larger than zero is no contribution, whatever its p-value.
        t.threshold, t.significant = float(level), bool(rej and t.loss > 0)
    report.sources.sort(key=_rank_key)
    return report


def _provided_clusters(source: str, labels: np.ndarray, sources: np.ndarray, tail: np.ndarray, main_share: float,
                       clusters: list[dict] | None) -> tuple[list[str], list[str]]:
    """The rare clusters ``source`` alone provides, and those it provides most of (>= main_share), among the
    records given (the mix's human records)."""
    sole, main = [], []
    for c in tail:
        members = sources[labels == c]
        if not len(members):
            continue
        names, n_by = np.unique(members, return_counts=True)
        mine = int(n_by[names == source].sum())
        if mine == len(members):
            sole.append(cluster_name(clusters, int(c)))
        elif mine and mine == n_by.max() and mine / len(members) >= main_share:
            main.append(cluster_name(clusters, int(c)))
    return sole, main


def value_frame(report: dict) -> pd.DataFrame:
    """One row per human source (most valuable first) from a stored report, for tables and metadata."""
    rows = []
    for s in (report or {}).get("sources", []):
        row = {"source": s["source"], "records": s["records"], "share": round(float(s["share"]), 4),
               "verdict": s.get("verdict", "")}
        tests = {t["metric"]: t for t in s.get("tests", [])}
        for metric in METRICS:
            t = tests.get(metric)
            row[f"{metric}_loss"] = None if t is None else round(float(t["loss"]), 4)
            row[f"{metric}_p"] = None if t is None or t["p_value"] is None else float(f"{t['p_value']:.3g}")
        row["sole_rare_clusters"] = ", ".join(s.get("sole_clusters", []))
        row["main_rare_clusters"] = ", ".join(s.get("main_clusters", []))
        rows.append(row)
    return pd.DataFrame(rows)


def fmt_p(p: float) -> str:
    """A p-value for people: two digits, and below 1e-6 only that (the fitted tail says no more)."""
    return "p<1e-6" if p < 1e-6 else f"p={p:.2g}"


def value_lines(report: dict | None, top: int = 3) -> list[str]:
    """The top human sources by value, one line each, for run summaries."""
    sources = (report or {}).get("sources", [])
    if not sources:
        return [f"  value of human sources: {'; '.join((report or {}).get('notes', [])) or 'not measured'}"]
    lines = [f"  top human sources by value (of {len(sources)}; loss when left out vs random removal, "
             f"Holm alpha {report.get('alpha')}):"]
    for s in sources[:top]:
        tests = ", ".join(
            f"{t['metric']} loss {t['loss']:.3g} {fmt_p(t['p_value'])}{'*' if t['significant'] else ''}"
            for t in s.get("tests", []) if t.get("p_value") is not None)
        rare = "; ".join(filter(None, [
            f"sole provider of {', '.join(s['sole_clusters'])}" if s.get("sole_clusters") else "",
            f"main provider of {', '.join(s['main_clusters'])}" if s.get("main_clusters") else ""]))
        lines.append(f"    {s['source']}: {s.get('verdict')}, {s['records']} records ({s['share']:.1%} of the mix)"
                     + (f"; {tests}" if tests else "") + (f"; {rare}" if rare else ""))
    return lines
