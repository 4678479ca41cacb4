"""Diversity metrics and the collapse simulation they must track (the gate: test_diversity_gate.py)."""

from __future__ import annotations

import inspect
import json
import math
import textwrap

import numpy as np
import pytest

from anchormix.baseline import assign_clusters, pin_baseline
from anchormix.diversity import (
    DiversitySettings,
    TailRule,
    cluster_entropy,
    cluster_hist,
    distinct_n,
    diversity_report,
    effective_rank,
    js_divergence,
    tail_clusters,
    tail_coverage,
    vendi_score,
)
from anchormix.errors import ConfigError
from anchormix.settings_base import parse_section
from anchormix.simulate import gaussian_refit_sigmas, gaussian_refit_vectors


def unit_rows(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# --- Vendi score and effective rank -----------------------------------------


def test_vendi_is_n_for_orthogonal_and_1_for_identical_rows():
    assert vendi_score(np.eye(7)) == pytest.approx(7.0, rel=1e-9)
    assert vendi_score(np.eye(12)[:5] * 3.0) == pytest.approx(5.0, rel=1e-9)  # scale is irrelevant (cosine)
    assert vendi_score(np.tile([[0.3, -1.0, 2.0]], (50, 1))) == pytest.approx(1.0, rel=1e-9)


def test_vendi_unchanged_when_every_sample_is_duplicated():
    x = np.random.default_rng(0).normal(size=(40, 16))
    assert vendi_score(np.vstack([x, x])) == pytest.approx(vendi_score(x), rel=1e-9)
    assert vendi_score(np.repeat(x, 3, axis=0)) == pytest.approx(vendi_score(x), rel=1e-9)


@pytest.mark.parametrize("n,d", [(30, 64), (300, 16), (200, 384)])
def test_vendi_matches_reference_score_dual(n, d):
    from vendi_score.vendi import score_dual, score_X

    rng = np.random.default_rng(n + d)
    x = rng.normal(size=(n, d)) + 0.5  # an offset so the kernel is not ~identity
    assert vendi_score(x) == pytest.approx(float(score_dual(x)), abs=1e-6)
    assert vendi_score(x) == pytest.approx(float(score_X(x)), abs=1e-6)


def test_effective_rank_bounds():
    assert effective_rank(np.eye(6)) == pytest.approx(6.0)
    assert effective_rank(np.ones((10, 4))) == pytest.approx(1.0)
    x = np.random.default_rng(1).normal(size=(500, 8))
    assert 7.0 < effective_rank(x) <= 8.0


# --- cluster histogram metrics and lexical diversity ----------------------------


def test_cluster_entropy_and_js_divergence():
    assert cluster_entropy(np.arange(8), 8) == pytest.approx(1.0)
    assert cluster_entropy(np.zeros(20, int), 8) == 0.0
    assert js_divergence([1, 2, 3], [2, 4, 6]) == pytest.approx(0.0)
    assert js_divergence([1, 0], [0, 5]) == pytest.approx(1.0)
    p, q = [5, 1, 1, 3], [1, 4, 4, 1]
    assert js_divergence(p, q) == pytest.approx(js_divergence(q, p))
    assert 0 < js_divergence(p, q) < 1
    with pytest.raises(ValueError):
        cluster_hist(np.array([0, 3]), 3)


def test_distinct_n_on_real_docstrings():
    docs = [inspect.getdoc(f) for f in (json.dumps, json.loads, textwrap.wrap, textwrap.dedent)]
    d1, d2 = distinct_n(docs, 1), distinct_n(docs, 2)
    assert 0 < d1 < d2 <= 1  # bigrams repeat less than words
    assert distinct_n(docs * 4, 1) == pytest.approx(d1 / 4)
    assert distinct_n([], 2) == 0.0


def test_tail_rule_smallest_clusters_up_to_20_percent_mass():
    hist = np.array([40, 5, 0, 10, 30, 6, 9])  # shares of 100
    assert tail_clusters(hist, 0.2).tolist() == [1, 5, 6]  # 5 + 6 + 9 = 20% <= 20%
    assert tail_clusters(hist, 0.19).tolist() == [1, 5]  # the next one would pass the mass
    assert tail_clusters(np.array([90, 10]), 0.05).tolist() == [1]  # at least one


def test_tail_coverage_reports_lost_clusters():
    class B:
        hist = np.array([40, 5, 0, 10, 30, 6, 9])

    tail = tail_clusters(B.hist, 0.2).tolist()
    labels = np.array([0] * 50 + [4] * 30 + [3] * 10 + [1] * 5 + [6] * 5)  # cluster 5 missing
    coverage, lost = tail_coverage(B, labels, TailRule(tail_mass=0.2))
    assert lost == [5] and coverage == pytest.approx(1 - 1 / len(tail))
    # min_fraction: cluster 1 expects 5 of 100; 1 record is below a quarter of that.
    thin = np.array([0] * 88 + [1] * 1 + [5] * 5 + [6] * 6)
    assert tail_coverage(B, thin, TailRule(tail_mass=0.2, min_fraction=0.25))[1] == [1]


# --- the collapse simulation the metrics must follow ----------------------------


def test_gaussian_refit_reproduces_the_reference_medians():
    sig = gaussian_refit_sigmas(n=100, generations=100, seeds=5000, mode="replace", seed=7)
    assert np.median(sig[:, 10]) == pytest.approx(0.906, abs=0.015)
    assert np.median(sig[:, 100]) == pytest.approx(0.369, abs=0.02)
    # E[σ²_t] = ((n-1)/n)^t
    assert np.mean(sig[:, 10] ** 2) == pytest.approx(0.99**10, abs=0.01)


def test_accumulating_keeps_sigma_near_one():
    sig = gaussian_refit_sigmas(n=100, generations=1000, seeds=400, mode="accumulate", seed=8)
    assert np.median(sig[:, 1000]) == pytest.approx(0.99, abs=0.02)


def _metrics_along_chain(mode: str, seed: int, tmp_path) -> dict[int, tuple[float, float, float]]:
    out = {}
    baseline = None
    for t, x, _ in gaussian_refit_vectors(n=100, d=4, generations=100, mode=mode, seed=seed, eval_n=2000):
        if t == 0:
            baseline = pin_baseline(x, "simulated", k=16, seed=0, directory=tmp_path / f"{mode}{seed}")
        if t in (0, 30, 100):
            coverage, _ = tail_coverage(baseline, assign_clusters(baseline, x))
            out[t] = (vendi_score(x), effective_rank(x), coverage)
    return out


def test_metrics_fall_as_refit_sigma_shrinks_and_hold_when_accumulating(tmp_path):
    replace = [_metrics_along_chain("replace", s, tmp_path) for s in range(5)]
    accumulate = [_metrics_along_chain("accumulate", s, tmp_path) for s in range(5)]

    def med(runs, t, i):
        return float(np.median([r[t][i] for r in runs]))

    for i in range(2):  # Vendi, effective rank
        assert med(replace, 100, i) < med(replace, 30, i) < med(replace, 0, i)
        assert med(accumulate, 100, i) > 0.95 * med(accumulate, 0, i)
    assert med(replace, 100, 0) < 0.6 * med(replace, 0, 0)
    assert med(replace, 100, 2) < 0.8  # tails vanish
    assert med(accumulate, 100, 2) == 1.0


# --- report and gates --------------------------------------------------------------


def _baseline_and_docs(tmp_path):
    rng = np.random.default_rng(3)
    centers = unit_rows(rng.normal(size=(12, 32)))
    sizes = np.array([120, 110, 100, 90, 80, 70, 60, 50, 12, 10, 8, 6])
    x = np.vstack([centers[c] + 0.15 * rng.normal(size=(s, 32)) for c, s in enumerate(sizes)])
    baseline = pin_baseline(x, "m", k=12, seed=0, directory=tmp_path / "base")
    docs = [inspect.getdoc(f) or "" for f in (json.dumps, json.loads, textwrap.wrap, textwrap.fill)]
    return baseline, x, docs


def test_report_has_every_metric(tmp_path):
    baseline, x, docs = _baseline_and_docs(tmp_path)
    texts = (docs * (len(x) // len(docs) + 1))[: len(x)]
    report = diversity_report(x, texts, baseline, previous_hist=baseline.hist)
    assert set(report) >= {
        "vendi", "vendi_ratio", "effective_rank", "cluster_entropy", "tail_coverage", "lost_tail_clusters",
        "js_baseline", "js_previous", "distinct_1", "distinct_2", "cluster_hist", "n",
    }
    assert report["n"] == len(x) and sum(report["cluster_hist"]) == len(x)
    assert report["vendi_ratio"] == pytest.approx(1.0, rel=1e-6)
    assert report["tail_coverage"] == 1.0 and report["js_baseline"] < 1e-9
    json.dumps(report)  # JSON-ready for Dagster metadata


def test_diversity_settings_validate():
    d = DiversitySettings.model_validate({"baseline_clusters": 64, "baseline_seed": 2, "tail_mass": 0.1})
    assert d.baseline_clusters == 64 and d.baseline_seed == 2 and d.min_baseline_records == 50
    assert d.tail.tail_mass == 0.1 and d.tail.min_count == 1
    with pytest.raises(ConfigError, match=r"diversity\.baseline_clusters: must be >= 2"):
        parse_section(DiversitySettings, {"baseline_clusters": 1}, "diversity")
    assert math.isfinite(js_divergence([1, 1], [1, 3]))
