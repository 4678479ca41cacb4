"""The calibrated diversity gate: healthy samples pass at the stated rate, collapse and shift are blocked.

The vectors are a seeded mixture of Gaussian clusters around a shared direction
(like sentence embeddings, which share one), so every test knows the truth:
healthy candidates are fresh draws of the baseline's own distribution.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from anchormix.baseline import assign_clusters, pin_baseline
from anchormix.diversity import tail_clusters
from anchormix.diversity_gate import (
    GateSettings,
    holm,
    judge,
    mmd_drift_test,
    reference_for,
    tail_count_test,
)
from anchormix.errors import ConfigError
from anchormix.gate_checks import diversity as diversity_outcome
from anchormix.healthy_null import null_p_value
from anchormix.settings_base import parse_section

D, K = 32, 12
WEIGHTS = np.array([0.2, 0.15, 0.12, 0.1, 0.1, 0.08, 0.07, 0.06, 0.05, 0.03, 0.02, 0.02])
MODEL = "test-model"


class Population:
    """A fixed mixture: ``draw(n)`` gives fresh healthy records; ``draw(n, components)`` a narrowed one."""

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.shift = rng.normal(size=D)
        self.shift *= 2.5 / np.linalg.norm(self.shift)
        self.centres = rng.normal(size=(K, D))
        self.rng = np.random.default_rng(seed + 1)

    def draw(self, n: int, components=None) -> tuple[np.ndarray, np.ndarray]:
        w = WEIGHTS.copy()
        if components is not None:
            mask = np.zeros(K, bool)
            mask[list(components)] = True
            w = np.where(mask, w, 0.0)
        comp = self.rng.choice(K, n, p=w / w.sum())
        return self.shift + self.centres[comp] + 0.6 * self.rng.normal(size=(n, D)), comp


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    pop = Population()
    pool, _ = pop.draw(3000)
    baseline = pin_baseline(pool, MODEL, k=8, seed=0, directory=tmp_path_factory.mktemp("baseline"))
    settings = GateSettings(null_draws=200)
    ref = reference_for(baseline, settings)
    tail = tail_clusters(baseline.hist, 0.2)
    return pop, baseline, settings, ref, tail


def _judge(setup, x, groups=None, previous=None, alpha=None):
    pop, baseline, settings, ref, tail = setup
    if alpha is not None:
        settings = GateSettings(alpha=alpha, null_draws=settings.null_draws)
    groups = groups or ["human"] * len(x)
    return judge(x, assign_clusters(baseline, x), groups, baseline.hist, tail, ref, settings, previous=previous,
                 baseline_vendi=baseline.vendi)


def test_p_values_of_healthy_candidates_are_uniform(setup):
    pop = setup[0]
    p_values: dict[str, list[float]] = {}
    blocked = 0
    # A candidate well under the pool: a finite pool sits a little off the population, and that offset,
    # the same for every draw judged against it, grows as sqrt(n / pool) (see anchormix.healthy_null).
    for _ in range(200):
        x, _ = pop.draw(40)
        verdict = _judge(setup, x)
        blocked += not verdict.passed
        for row in verdict.rows:
            p_values.setdefault(row.gate, []).append(row.p_value)
    report = {g: (stats.kstest(p_values[g], "uniform").pvalue, np.quantile(p_values[g], [0.05, 0.5])) for g in p_values
              if not g.startswith("tail")}
    for gate in ("vendi", "effective_rank", "js_baseline"):
        assert report[gate][0] > 0.01, (gate, report[gate])
    # The share-like metrics are discrete at this size (KS assumes a continuous law), and carry the pool's
    # offset; what matters for a gate is that they do not give small p-values to healthy data too often.
    for gate in ("knn_coverage", "fidelity"):
        assert np.mean(np.asarray(p_values[gate]) <= 0.05) <= 0.1, (gate, report[gate])
    # Family-wise false blocks at alpha 0.01: 200 draws, 2 expected at most; 6 would be p < 0.02 by chance.
    assert blocked <= 6, blocked


def test_collapsed_candidate_is_blocked_and_names_the_lost_rare_clusters(setup):
    pop, baseline, *_ = setup
    head = np.argsort(-WEIGHTS)[:3]
    x, _ = pop.draw(200, components=head)
    verdict = _judge(setup, x)
    assert not verdict.passed
    failed = {r.gate for r in verdict.failed}
    assert {"vendi", "knn_coverage", "js_baseline"} <= failed, failed
    assert verdict.under_covered, "no rare cluster reported as under-covered"
    assert all(u["observed"] < u["expected"] for u in verdict.under_covered)
    vendi = next(r for r in verdict.rows if r.gate == "vendi")
    assert vendi.observed < vendi.band_lo and vendi.p_value < vendi.threshold
    assert "healthy median" in vendi.detail and "BLOCKS" in vendi.detail


def test_off_distribution_human_records_fail_fidelity_though_they_raise_vendi(setup):
    pop = setup[0]
    rng = np.random.default_rng(5)
    healthy, _ = pop.draw(150)
    salad = pop.shift + 3.0 * rng.normal(size=(50, D))  # incoherent: far from every human region, and spread out
    x = np.concatenate([healthy, salad])
    verdict = _judge(setup, x)
    rows = {r.gate: r for r in verdict.rows}
    assert not rows["fidelity"].passed
    assert rows["vendi"].observed > rows["vendi"].null_median  # word salad looks diverse
    # Declared synthetic records admitted within the cap are not a fidelity failure by themselves.
    declared = _judge(setup, x, groups=["human"] * 150 + ["synthetic"] * 50)
    assert {r.gate: r for r in declared.rows}["fidelity"].passed


def test_tail_count_test_flags_an_emptied_rare_cluster_only():
    hist = [400, 300, 200, 60, 40]
    counts = np.array([90, 70, 40, 0, 10])  # n = 210: cluster 3 expects 12.6 and holds 0
    rows = {r["cluster"]: r for r in tail_count_test(hist, counts, [3, 4], alpha=0.01)}
    assert rows[3]["p_value"] < 1e-4 and rows[3]["expected"] == pytest.approx(210 * 60 / 1000)
    assert rows[4]["p_value"] > 0.3
    # The beta-binomial null is wider than a binomial at the point share: the baseline share is an estimate.
    binom = stats.binom(210, 60 / 1000)
    assert rows[3]["band_lo"] <= binom.ppf(0.01)


def test_matched_size_drift_passes_same_distribution_at_any_sizes_and_flags_a_shift(setup):
    pop = setup[0]
    big, _ = pop.draw(1500)
    passes = [mmd_drift_test(big, pop.draw(n)[0], seed=s)["p_value"] > 0.01 for s, n in enumerate((40, 120, 400, 60))]
    assert sum(passes) >= 3
    shifted, _ = pop.draw(300, components=[0, 1])
    assert mmd_drift_test(big, shifted)["p_value"] < 1e-3


def test_drift_test_joins_the_family_when_there_is_a_previous_generation(setup):
    pop = setup[0]
    previous, _ = pop.draw(800)
    x, _ = pop.draw(100)
    verdict = _judge(setup, x, previous=previous)
    assert "drift_previous" in {r.gate for r in verdict.rows}
    assert verdict.passed, [r.detail for r in verdict.failed]


def test_holm_step_down():
    rejected, levels = holm([0.001, 0.04, 0.012, 0.5], alpha=0.05)
    assert rejected == [True, False, True, False]
    assert levels == pytest.approx([0.0125, 0.025, 0.05 / 3, 0.05])


def test_p_value_uses_the_fitted_tail_beyond_the_draws():
    null = np.random.default_rng(0).normal(10.0, 1.0, 200)
    assert null_p_value(10.0, null, "low") == pytest.approx(0.5, abs=0.08)
    far = null_p_value(4.0, null, "low")
    assert 0 < far < 1e-6  # six sd below: beyond what 200 draws resolve, from the normal fit
    assert null_p_value(16.0, null, "low") > 0.99


def test_check_outcome_carries_numeric_metadata_for_the_ui(setup):
    pop = setup[0]
    x, _ = pop.draw(100)
    verdict = _judge(setup, x).to_dict()
    outcome = diversity_outcome({"report": {"diversity_verdict": verdict, "intake": {"added": 7, "retired": 2}}})
    assert outcome.passed
    for key in ("vendi", "vendi_p", "vendi_null_median", "vendi_band_lo", "vendi_band_hi", "knn_coverage_p",
                "js_baseline_p", "fidelity_p", "tail_min_p"):
        assert isinstance(outcome.values[key], float), key
    assert outcome.values["records_added"] == 7


def test_gate_settings_validate_and_floors_are_off_by_default():
    s = GateSettings.model_validate({})
    assert s.alpha == 0.01 and s.null_draws >= 200 and s.vendi_ratio_floor is None
    assert GateSettings.model_validate({"vendi_ratio_floor": 0.8}).vendi_ratio_floor == 0.8
    with pytest.raises(ConfigError, match=r"gates\.alpha"):
        parse_section(GateSettings, {"alpha": 0.7}, "gates")
    with pytest.raises(ConfigError, match=r"gates\.null_draws"):
        parse_section(GateSettings, {"null_draws": 10}, "gates")
    with pytest.raises(ConfigError, match=r"gates\.vendi_floor: unknown key"):
        parse_section(GateSettings, {"vendi_floor": 0.5}, "gates")


def test_nulls_are_cached_per_size_on_disk_for_later_runs(setup, tmp_path):
    from anchormix.healthy_null import NULLS

    pop, baseline, settings, ref, tail = setup
    x, _ = pop.draw(77)
    labels = assign_clusters(baseline, x)
    first = judge(x, labels, ["human"] * 77, baseline.hist, tail, ref, settings, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    NULLS._items.clear()  # a new process: memory is empty, the file is not
    hits = NULLS.hits
    again = judge(x, labels, ["human"] * 77, baseline.hist, tail, ref, settings, cache_dir=tmp_path)
    assert NULLS.hits == hits + 1
    assert [r.p_value for r in again.rows] == [r.p_value for r in first.rows]
