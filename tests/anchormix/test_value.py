"""The value of each human source: leave-one-source-out losses judged against random removals."""

from __future__ import annotations

import numpy as np
import pytest

from anchormix.diversity import TailRule, tail_clusters
from anchormix.errors import ConfigError
from anchormix.value import ValueSettings, source_values, value_frame, value_lines

D = 24
RARE = 5
CLUSTERS = [{"cluster": c, "label": f"topic {c}", "terms": [f"topic{c}"], "exemplars": [], "size": 10}
            for c in range(6)]
CLUSTERS[RARE] = {"cluster": RARE, "label": "tarfile · members · archive", "terms": ["tarfile", "members", "archive"],
                  "exemplars": [], "size": 3}


def _mix(seed: int = 0):
    """Six clusters of synthetic unit vectors; cluster 5 is rare and only the source "rare-archive" has it."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(6, D))
    labels, sources = [], []
    for i in range(240):
        labels.append(i % 5)
        sources.append(["big-archive", "crawl-a", "crawl-b"][i % 3])
    labels += [RARE] * 6
    sources += ["rare-archive"] * 6
    # A small source in common clusters: it must not be called valuable by noise.
    labels += [0, 1, 2, 3, 4]
    sources += ["small-common"] * 5
    labels = np.asarray(labels)
    vectors = centres[labels] + 0.6 * rng.normal(size=(len(labels), D))
    groups = ["human"] * len(labels)
    # Baseline: the rare cluster holds 2 % of the human baseline.
    hist = np.array([98, 98, 98, 98, 98, 10])
    return vectors, labels, sources, groups, hist


def test_a_source_that_alone_covers_a_rare_cluster_is_named_with_that_cluster():
    vectors, labels, sources, groups, hist = _mix()
    tail = tail_clusters(hist, 0.05)
    assert list(tail) == [RARE]
    report = source_values(vectors, labels, sources, groups, hist, tail, ValueSettings(null_draws=60),
                           rule=TailRule(tail_mass=0.05), clusters=CLUSTERS)
    top = report.sources[0]
    assert top.source == "rare-archive"
    assert top.verdict == "valuable"
    assert top.sole_clusters == ["c5 'tarfile · members · archive'"]
    tail_test = top.test("tail_coverage")
    assert tail_test.full == 1.0 and tail_test.without == 0.0 and tail_test.significant
    assert tail_test.p_value < 1e-6
    assert "rare-archive" in value_lines(report.to_dict())[1] and "tarfile" in value_lines(report.to_dict())[1]
    frame = value_frame(report.to_dict())
    assert frame.iloc[0]["source"] == "rare-archive"
    assert frame.iloc[0]["sole_rare_clusters"] == "c5 'tarfile · members · archive'"
    assert abs(frame["share"].sum() - 1.0) < 1e-3


def test_a_small_source_of_common_clusters_is_not_called_valuable_by_noise():
    vectors, labels, sources, groups, hist = _mix(seed=3)
    report = source_values(vectors, labels, sources, groups, hist, tail_clusters(hist, 0.05),
                           ValueSettings(null_draws=60), rule=TailRule(tail_mass=0.05), clusters=CLUSTERS)
    small = next(s for s in report.sources if s.source == "small-common")
    assert small.verdict == "typical"
    assert small.records == 5 and small.sole_clusters == [] and small.main_clusters == []
    # Its Vendi loss lies within the spread of random removals of five human records.
    vendi = small.test("vendi")
    assert vendi.p_value > 0.05


def test_a_source_whose_records_widen_the_mix_beats_random_removal_on_vendi():
    rng = np.random.default_rng(1)
    common = rng.normal(size=(1, D))
    # 200 records near one direction, 40 spread over many: the spread source carries the mix's diversity.
    narrow = common + 0.2 * rng.normal(size=(200, D))
    wide = rng.normal(size=(40, D))
    vectors = np.vstack([narrow, wide])
    sources = ["narrow"] * 200 + ["wide"] * 40
    labels = np.zeros(240, dtype=int)
    report = source_values(vectors, labels, sources, ["human"] * 240, np.array([100, 100]), [1],
                           ValueSettings(null_draws=60))
    wide_value = next(s for s in report.sources if s.source == "wide")
    assert "vendi" in wide_value.significant and "effective_rank" in wide_value.significant
    assert report.sources[0].source == "wide"


def test_non_human_records_are_never_left_out_and_a_lone_human_source_is_not_judged():
    vectors, labels, sources, groups, hist = _mix()
    groups = ["human" if s == "rare-archive" else "synthetic" for s in sources]
    report = source_values(vectors, labels, sources, groups, hist, tail_clusters(hist, 0.05), ValueSettings())
    assert [s.source for s in report.sources] == ["rare-archive"]
    assert report.sources[0].verdict.startswith("not judged")


def test_bad_value_settings_fail_at_load_naming_the_key(tmp_path):
    from anchormix.config import load_settings

    path = tmp_path / "anchormix.toml"
    path.write_text("[value]\nnull_draws = 5\n")
    with pytest.raises(ConfigError, match=r"value\.null_draws"):
        load_settings(path)
    path.write_text("[value]\nalpha = 0.7\n")
    with pytest.raises(ConfigError, match=r"value\.alpha"):
        load_settings(path)
