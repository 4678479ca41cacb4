"""Behaviour of the mix policy and sampler. Ids are synthetic; pools carry no text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anchormix.errors import ConfigError
from anchormix.mix import POOL_COLUMNS, MixPolicy, provenance_group, sample_mix, seeded_keys
from anchormix.settings_base import parse_section

TONIGHT = "2026-11-02"
YESTERDAY = "2026-11-01"


def make_pool(spec, *, drop=TONIGHT, previously_published=False, start=0):
    """``spec``: list of (count, source, provenance_class, cluster)."""
    rows = []
    i = start
    for count, source, cls, cluster in spec:
        for _ in range(count):
            rows.append(
                {
                    "id": f"syn-id-{i:06d}",
                    "source": source,
                    "provenance_class": cls,
                    "cluster": cluster,
                    "quality_score": 0.5,
                    "drop": drop,
                    "previously_published": previously_published,
                }
            )
            i += 1
    return pd.DataFrame(rows)


def policy(**kw):
    return MixPolicy.model_validate(kw)


def group_counts(result):
    groups = result.selected["provenance_class"].map(provenance_group)
    return groups.value_counts().to_dict()


def assert_meets_policy(result, pol):
    n = result.size
    assert n > 0
    counts = group_counts(result)
    assert counts.get("human", 0) >= pol.human_floor * n - 1e-9
    assert counts.get("synthetic", 0) <= pol.synthetic_cap * n + 1e-9
    assert counts.get("unknown", 0) <= pol.unknown_cap * n + 1e-9
    by_source = result.selected["source"].value_counts()
    for src, cap in pol.per_source_caps.items():
        assert by_source.get(src, 0) <= cap * n + 1e-9
    assert n <= pol.target_size


# ---------------------------------------------------------------- policy


def test_policy_defaults_and_round_trip():
    pol = MixPolicy.model_validate({})
    assert pol.to_dict() == {
        "human_floor": 0.5,
        "synthetic_cap": 0.3,
        "unknown_cap": 0.1,
        "per_source_caps": {},
        "target_size": 1000,
        "seed": 0,
        "mode": "accumulate",
        "fresh_share": 0.25,
        "allowed_licenses": [],
        "denied_licenses": [],
    }
    custom = policy(
        human_floor=0.6, per_source_caps={"forum": 0.25}, target_size=50, seed=3, mode="replace", fresh_share=0.1
    )
    assert MixPolicy.model_validate(custom.to_dict()) == custom


@pytest.mark.parametrize(
    "data, key",
    [
        ({"human_floor": 1.5}, "mix.human_floor"),
        ({"human_floor": "half"}, "mix.human_floor"),
        ({"synthetic_cap": -0.1}, "mix.synthetic_cap"),
        ({"unknown_cap": True}, "mix.unknown_cap"),
        ({"target_size": 0}, "mix.target_size"),
        ({"target_size": 10.5}, "mix.target_size"),
        ({"seed": "x"}, "mix.seed"),
        ({"mode": "overwrite"}, "mix.mode"),
        ({"per_source_caps": 3}, "mix.per_source_caps"),
        ({"per_source_caps": {"forum": 1.2}}, "mix.per_source_caps.forum"),
        ({"humanfloor": 0.5}, "mix.humanfloor"),
        ({"fresh_share": 1.5}, "mix.fresh_share"),
        ({"fresh_share": "quarter"}, "mix.fresh_share"),
        # Caps that can never be reached while the floor holds name the key the user set.
        ({"human_floor": 0.5, "synthetic_cap": 0.6}, "mix.synthetic_cap"),
        ({"human_floor": 0.95}, "mix.human_floor"),
        ({"human_floor": 0.8, "synthetic_cap": 0.1, "unknown_cap": 0.25}, "mix.unknown_cap"),
    ],
)
def test_policy_errors_name_the_key(data, key):
    with pytest.raises(ConfigError) as err:
        parse_section(MixPolicy, data, "mix")
    assert err.value.key == key
    assert str(err.value).startswith(key + ":")


def test_policy_prefix_is_used_in_errors():
    with pytest.raises(ConfigError) as err:
        parse_section(MixPolicy, {"human_floor": 2}, "profiles.nightly.mix")
    assert err.value.key == "profiles.nightly.mix.human_floor"


# ---------------------------------------------------------------- sampler


def test_skewed_pool_meets_floor_by_shrinking():
    # 90% synthetic pool: 100 human, 900 synthetic spread over the baseline clusters.
    weights = np.full(10, 0.1)
    spec = [(10, "web", "human_verified", c) for c in range(10)]
    spec += [(90, "gen", "synthetic_declared", c) for c in range(10)]
    pol = policy(target_size=1000)
    result = sample_mix(make_pool(spec), pol, weights, TONIGHT)
    assert result.feasible and result.infeasible_reasons == []
    assert_meets_policy(result, pol)
    # Every human record is kept and the mix is as large as the caps allow: with no
    # unknown records, 100 humans + a synthetic share of at most 0.3 gives 100 / 0.7.
    assert group_counts(result)["human"] == 100
    assert result.size == 142
    assert group_counts(result)["synthetic"] == 42
    assert result.notes and "142 of target 1000" in result.notes[0]
    assert set(result.held["held_reason"]) <= {"synthetic_cap", "cluster_at_baseline_share(cluster=0)"} | {
        f"cluster_at_baseline_share(cluster={c})" for c in range(10)
    }


def test_all_synthetic_pool_is_infeasible_with_reasons():
    weights = np.full(4, 0.25)
    pool = make_pool([(50, "gen", "synthetic_suspected", c) for c in range(4)] + [(5, "misc", "unknown", 0)])
    result = sample_mix(pool, policy(target_size=100), weights, TONIGHT)
    assert result.feasible is False
    text = " ".join(result.infeasible_reasons)
    assert "0 human records eligible" in text
    assert "human share" in text and "< human_floor" in text
    # The best candidate is still returned so the ratio gate can fail on it.
    assert result.size > 0
    assert result.shares["human"] == 0.0


def test_per_source_caps_respected_and_explained():
    weights = np.full(2, 0.5)
    spec = [(300, "forum", "human_presumed", 0), (300, "forum", "human_presumed", 1)]
    spec += [(100, "wiki", "human_verified", 0), (100, "wiki", "human_verified", 1)]
    pol = policy(target_size=400, per_source_caps={"forum": 0.4})
    result = sample_mix(make_pool(spec), pol, weights, TONIGHT)
    assert result.feasible
    assert_meets_policy(result, pol)
    ps = result.per_source.set_index("source")
    assert list(result.per_source.columns[:5]) == ["source", "available", "selected", "cap", "why"]
    assert ps.loc["forum", "available"] == 600
    assert ps.loc["forum", "selected"] <= 0.4 * result.size
    assert "source_cap(forum)" in ps.loc["forum", "why"]
    assert ps.loc["wiki", "why"] == "all eligible records selected"


def test_all_sources_capped_below_one_is_infeasible():
    pool = make_pool([(100, "a", "human_verified", 0), (100, "b", "human_verified", 0)])
    result = sample_mix(pool, policy(target_size=100, per_source_caps={"a": 0.3, "b": 0.3}), None, TONIGHT)
    assert result.feasible is False
    assert any("caps sum to 0.600" in r for r in result.infeasible_reasons)


def test_same_seed_same_mix_different_seed_different_mix():
    weights = np.full(5, 0.2)
    spec = [(200, "web", "human_verified", c) for c in range(5)]
    pool = make_pool(spec)
    a = sample_mix(pool, policy(target_size=100, seed=7), weights, TONIGHT)
    b = sample_mix(pool.sample(frac=1.0, random_state=1), policy(target_size=100, seed=7), weights, TONIGHT)
    c = sample_mix(pool, policy(target_size=100, seed=8), weights, TONIGHT)
    assert a.selected["id"].tolist() == b.selected["id"].tolist()  # input order does not matter
    assert set(a.selected["id"]) != set(c.selected["id"])


def test_seeded_keys_are_stable_values():
    # Pinned so a change of hash (or use of salted hash()) is caught.
    keys = seeded_keys(["syn-id-000001", "syn-id-000002"], 0)
    assert keys.dtype == np.uint64
    assert keys.tolist() == seeded_keys(["syn-id-000001", "syn-id-000002"], 0).tolist()
    assert keys.tolist() != seeded_keys(["syn-id-000001", "syn-id-000002"], 1).tolist()


def test_targeted_fill_prefers_under_represented_clusters():
    # Baseline: 4 equal clusters. Humans cover clusters 0 and 1 only; synthetic is
    # available everywhere and mostly in the over-covered cluster 0.
    weights = np.full(4, 0.25)
    spec = [(40, "web", "human_verified", 0), (40, "web", "human_verified", 1)]
    spec += [(200, "gen", "synthetic_declared", 0), (30, "gen", "synthetic_declared", 2)]
    spec += [(30, "gen", "synthetic_declared", 3)]
    pol = policy(target_size=160, human_floor=0.5, synthetic_cap=0.5, unknown_cap=0.0)
    result = sample_mix(make_pool(spec), pol, weights, TONIGHT)
    assert result.feasible
    syn = result.selected[result.selected["reason"].str.startswith("synthetic_targeted_fill")]
    assert len(syn) > 0
    # No bulk padding: nothing goes into cluster 0 (already at its share of 40/160).
    assert set(syn["cluster"]) == {2, 3}
    assert (syn["reason"] == syn["cluster"].map(lambda c: f"synthetic_targeted_fill(cluster={c})")).all()
    held = result.held.set_index("id")
    cluster0 = result.held[(result.held["cluster"] == 0) & (result.held["provenance_class"] == "synthetic_declared")]
    assert (cluster0["held_reason"] == "cluster_at_baseline_share(cluster=0)").all()
    assert len(held) + result.size == sum(count for count, *_ in spec)


def test_targeted_fill_ranks_by_deficit_and_never_fills_past_share():
    # Target 100, weights 0.6 / 0.3 / 0.1; humans: 50 in cluster 0 only.
    weights = np.array([0.6, 0.3, 0.1])
    spec = [(50, "web", "human_verified", 0)]
    spec += [(100, "gen", "synthetic_declared", c) for c in range(3)]
    pol = policy(target_size=100, human_floor=0.5, synthetic_cap=0.2, unknown_cap=0.0)
    result = sample_mix(make_pool(spec), pol, weights, TONIGHT)
    syn = result.selected[result.selected["provenance_class"] == "synthetic_declared"]
    # 50 humans and a synthetic cap of 0.2 hold a mix of 62 (50 / 0.8), 12 of them synthetic.
    assert_meets_policy(result, pol)
    assert result.size == 62 and len(syn) == 12
    n = result.size
    counts = result.selected["cluster"].value_counts()
    for c, w in enumerate(weights):
        # A synthetic record only went into cluster c while it was below w * n.
        if (syn["cluster"] == c).any():
            assert counts.get(c, 0) <= int(np.ceil(w * n))
    # The first admissions go to the cluster with the largest deficit (cluster 1: 0.3 * n).
    assert syn["cluster"].iloc[0] == 1


def test_synthetic_without_baseline_cluster_is_never_admitted():
    weights = np.full(2, 0.5)
    spec = [(50, "web", "human_verified", 0), (200, "gen", "synthetic_declared", -1)]
    result = sample_mix(make_pool(spec), policy(target_size=100), weights, TONIGHT)
    assert (result.selected["provenance_class"] == "human_verified").all()
    assert set(result.held["held_reason"]) == {"no_baseline_cluster"}


def test_no_baseline_admits_no_synthetic():
    spec = [(50, "web", "human_verified", 0), (50, "gen", "synthetic_declared", 1)]
    result = sample_mix(make_pool(spec), policy(target_size=100), None, TONIGHT)
    assert result.shares["synthetic"] == 0.0
    assert set(result.held["held_reason"]) == {"no_baseline"}


def test_unknown_fills_last_up_to_its_cap():
    spec = [(60, "web", "human_verified", 0), (100, "misc", "unknown", 0)]
    pol = policy(target_size=100, unknown_cap=0.1)
    result = sample_mix(make_pool(spec), pol, None, TONIGHT)
    assert_meets_policy(result, pol)
    assert (result.selected.loc[result.selected["provenance_class"] == "unknown", "reason"] == "unknown_fill").all()
    # Unknown records come after every human record.
    reasons = result.selected["reason"].tolist()
    assert reasons.index("unknown_fill") > max(i for i, r in enumerate(reasons) if r == "human_fill")


def history_pool():
    old = make_pool([(60, "web", "human_verified", 0)], drop=YESTERDAY, previously_published=True, start=0)
    new = make_pool(
        [(60, "web", "human_verified", 0), (100, "gen", "synthetic_declared", 1)], drop=TONIGHT, start=1000
    )
    return pd.concat([old, new], ignore_index=True)


def test_accumulate_keeps_previous_humans_first():
    pool = history_pool()
    result = sample_mix(pool, policy(target_size=80, mode="accumulate"), np.array([0.5, 0.5]), TONIGHT)
    kept = result.selected[result.selected["reason"] == "kept_previous_human"]
    previous_ids = set(pool.loc[pool["previously_published"], "id"])
    assert set(kept["id"]) == previous_ids  # every earlier human record kept
    assert result.selected["reason"].iloc[:60].eq("kept_previous_human").all()
    assert result.feasible
    # 60 kept + 20 of tonight fill the 80 slots: nothing had to be retired.
    assert result.retired.empty and result.added == 20


def test_replace_sees_only_tonights_drop():
    pool = history_pool()
    result = sample_mix(pool, policy(target_size=80, mode="replace"), np.array([0.5, 0.5]), TONIGHT)
    assert (result.selected["drop"] == TONIGHT).all()
    assert "kept_previous_human" not in set(result.selected["reason"])
    # Yesterday's rows are not eligible, so they are not held either.
    assert (result.held["drop"] == TONIGHT).all()
    accumulate = sample_mix(pool, policy(target_size=80, mode="accumulate"), np.array([0.5, 0.5]), TONIGHT)
    assert accumulate.shares["human"] >= result.shares["human"]


def test_every_eligible_record_is_selected_or_held():
    pool = history_pool()
    result = sample_mix(pool, policy(target_size=50), np.array([0.5, 0.5]), TONIGHT)
    assert set(result.selected["id"]).isdisjoint(result.held["id"])
    assert set(result.selected["id"]) | set(result.held["id"]) == set(pool["id"])
    assert result.per_source["selected"].sum() == result.size
    assert result.per_source["available"].sum() == len(pool)


def assert_conserved(result, pool):
    assert set(result.selected["id"]).isdisjoint(result.held["id"])
    assert len(result.selected) + len(result.held) == len(pool)
    assert set(result.selected["id"]) | set(result.held["id"]) == set(pool["id"])


# ---------------------------------------------------------------- refresh (accumulate)


def full_mix_pool(kept_spec, tonight_spec):
    """Kept records of yesterday (published) and unpublished records of tonight, ids disjoint."""
    old = make_pool(kept_spec, drop=YESTERDAY, previously_published=True, start=0)
    new = make_pool(tonight_spec, drop=TONIGHT, start=100_000)
    return pd.concat([old, new], ignore_index=True)


def test_fresh_records_enter_when_the_mix_is_full():
    weights = np.full(4, 0.25)
    pool = full_mix_pool([(25, "web", "human_verified", c) for c in range(4)],
                         [(25, "web", "human_verified", c) for c in range(4)])
    result = sample_mix(pool, policy(target_size=100, fresh_share=0.25), weights, TONIGHT)
    assert result.feasible and result.size == 100
    fresh = result.selected[result.selected["drop"] == TONIGHT]
    assert len(fresh) == 25 and (fresh["reason"] == "human_fill").all()
    assert result.added == 25
    assert len(result.retired) == 25
    assert list(result.retired.columns) == ["id", "source", "cluster", "drop", "retired_reason"]
    assert (result.retired["drop"] == YESTERDAY).all()
    # Kept records first, then tonight's.
    assert result.selected["reason"].iloc[:75].eq("kept_previous_human").all()
    held = result.held.set_index("id")
    for rid, cluster in zip(result.retired["id"], result.retired["cluster"]):
        assert held.loc[rid, "held_reason"] == f"retired_over_represented(cluster={cluster})"
    assert (result.retired["retired_reason"] == result.retired["cluster"].map(
        lambda c: f"over_represented(cluster={c})")).all()
    assert_conserved(result, pool)
    assert any("75 human records of tonight's drop 2026-11-02 held because the mix is full" in n
               for n in result.notes)
    ps = result.per_source.set_index("source")
    assert "retired_over_represented" in ps.loc["web", "why"]


def test_retirement_takes_the_most_over_represented_cluster_first():
    weights = np.full(4, 0.25)
    kept = [(3, "web", "human_verified", -1), (57, "web", "human_verified", 0)]
    kept += [(20, "web", "human_verified", 1), (10, "web", "human_verified", 2), (10, "web", "human_verified", 3)]
    pool = full_mix_pool(kept, [(40, "web", "human_verified", 2)])
    result = sample_mix(pool, policy(target_size=100, fresh_share=0.2), weights, TONIGHT)
    # Records without a baseline cluster go first, then cluster 0 (57 vs 25 expected).
    assert result.retired["cluster"].tolist() == [-1] * 3 + [0] * 17
    assert result.retired["retired_reason"].iloc[0] == "over_represented(cluster=-1)"
    assert result.added == 20
    # Within a cluster the last in seeded order goes first: the retired cluster-0 records
    # are the tail of the kept cluster-0 records in seeded order.
    c0 = pool[(pool["cluster"] == 0) & pool["previously_published"]]
    order = c0.iloc[np.lexsort((c0["id"].to_numpy(), seeded_keys(c0["id"].tolist(), 0)))]["id"].tolist()
    assert result.retired.loc[result.retired["cluster"] == 0, "id"].tolist() == order[::-1][:17]
    assert_conserved(result, pool)


def test_protected_clusters_are_never_retired_below_their_baseline_share():
    weights = np.array([0.5, 0.5])
    kept = [(40, "web", "human_verified", 0), (60, "web", "human_verified", 1)]
    pool = full_mix_pool(kept, [(40, "web", "human_verified", 0)])
    pol = policy(target_size=100, fresh_share=0.3)
    kept_1 = set(pool.loc[(pool["cluster"] == 1) & pool["previously_published"], "id"])
    unprotected = sample_mix(pool, pol, weights, TONIGHT)
    assert len(kept_1 & set(unprotected.selected["id"])) < 50  # unprotected, it goes below its share
    result = sample_mix(pool, pol, weights, TONIGHT, protected_clusters=[1])
    # The rare cluster gives up only its 10 records above its share of 50; the rest come from cluster 0.
    assert sorted(result.retired["cluster"].tolist()) == [0] * 20 + [1] * 10
    assert result.added == 30
    assert len(kept_1 & set(result.selected["id"])) == 50
    assert_conserved(result, pool)


def test_only_protected_kept_records_at_their_share_open_fewer_fresh_slots():
    weights = np.array([0.9, 0.1])
    kept = [(90, "web", "human_verified", 0), (10, "web", "human_verified", 1)]
    pool = full_mix_pool(kept, [(50, "web", "human_verified", 1)])
    result = sample_mix(pool, policy(target_size=100, fresh_share=0.3), weights, TONIGHT,
                        protected_clusters=np.array([0]))
    # Cluster 0 sits at its share and is protected: only the 10 cluster-1 kept records may go.
    assert result.retired["cluster"].tolist() == [1] * 10
    assert result.added == 10
    assert any("20 fresh slots not opened" in n for n in result.notes)
    everything = sample_mix(pool, policy(target_size=100, fresh_share=0.3), weights, TONIGHT,
                            protected_clusters=[0, 1])
    assert everything.retired.empty and everything.added == 0
    assert any("protected clusters" in n and n.startswith("the mix adds no record") for n in everything.notes)
    assert_conserved(everything, pool)


def seeded_first(frame, n, seed=0):
    order = np.lexsort((frame["id"].to_numpy(), seeded_keys(frame["id"].tolist(), seed)))
    return frame.iloc[order[:n]]["id"].tolist()


def test_fresh_share_zero_keeps_previous_records_first():
    weights = np.full(2, 0.5)
    pool = full_mix_pool([(60, "web", "human_verified", 0), (60, "web", "human_verified", 1)],
                         [(50, "web", "human_verified", 1)])
    result = sample_mix(pool, policy(target_size=100, fresh_share=0), weights, TONIGHT)
    # The behaviour before the refresh rule: the first 100 kept records in seeded order.
    kept = pool[pool["previously_published"]]
    assert result.selected["id"].tolist() == seeded_first(kept, 100)
    assert result.added == 0 and result.retired.empty
    assert "retired_over_represented" not in " ".join(result.held["held_reason"])
    assert "the mix adds no record not published before: fresh_share is 0" in " | ".join(result.notes)
    assert_conserved(result, pool)


def test_nothing_added_explains_an_empty_drop():
    weights = np.full(2, 0.5)
    pool = full_mix_pool([(100, "web", "human_verified", 0)], [(5, "gen", "synthetic_declared", 0)])
    result = sample_mix(pool, policy(target_size=100), weights, TONIGHT)
    assert result.added == 0
    assert any(n.endswith("no eligible human record in tonight's drop") for n in result.notes)


def test_source_cap_holding_tonights_records_is_noted():
    pool = full_mix_pool([(80, "wiki", "human_verified", 0), (20, "forum", "human_presumed", 0)],
                         [(50, "forum", "human_presumed", 0)])
    pol = policy(target_size=100, per_source_caps={"forum": 0.2})
    result = sample_mix(pool, pol, np.array([1.0]), TONIGHT)
    assert_meets_policy(result, pol)
    assert result.added == 0 and result.retired.empty
    assert "source forum: 50 records held by per_source_caps.forum = 0.2; raise the cap or add other sources" \
        in result.notes
    assert any("held by a per-source cap" in n for n in result.notes)
    assert_conserved(result, pool)


def test_refresh_keeps_source_caps_and_floors():
    weights = np.full(2, 0.5)
    pool = full_mix_pool([(60, "wiki", "human_verified", 0), (40, "forum", "human_presumed", 1)],
                         [(30, "forum", "human_presumed", 0), (30, "wiki", "human_verified", 1),
                          (50, "gen", "synthetic_declared", 1)])
    pol = policy(target_size=100, per_source_caps={"forum": 0.4, "wiki": 0.7}, fresh_share=0.25)
    result = sample_mix(pool, pol, weights, TONIGHT)
    assert result.feasible
    assert_meets_policy(result, pol)
    assert result.added == 25 and len(result.retired) == 25
    # Cluster 0 (60 kept, 50 expected) goes first; tonight's forum records only fit once a
    # forum record is retired, and the rest of them stay held by forum's cap.
    assert result.retired["cluster"].iloc[:20].eq(0).all()
    assert (result.held.loc[(result.held["source"] == "forum") & (result.held["drop"] == TONIGHT), "held_reason"]
            == "source_cap(forum)").all()
    assert any(n.startswith("source forum: ") and "per_source_caps.forum = 0.4" in n for n in result.notes)
    assert_conserved(result, pool)


def test_rebuilding_a_published_night_gives_the_same_mix():
    weights = np.full(4, 0.25)
    pool = full_mix_pool([(40, "web", "human_verified", 0)] + [(20, "web", "human_verified", c) for c in (1, 2, 3)],
                         [(30, "web", "human_verified", c) for c in range(4)])
    first = sample_mix(pool, policy(target_size=100), weights, TONIGHT)
    assert first.added == 25
    # Publishing marks tonight's selection as published; the retired records stay published.
    republished = pool.assign(previously_published=pool["previously_published"] | pool["id"].isin(first.selected["id"]))
    again = sample_mix(republished, policy(target_size=100), weights, TONIGHT)
    assert again.selected["id"].tolist() == first.selected["id"].tolist()
    assert again.retired["id"].tolist() == first.retired["id"].tolist()
    assert again.added == 0
    assert any("rebuild of a published night" in n for n in again.notes)


def test_ten_nights_of_fresh_drops_each_add_records():
    weights = np.array([0.4, 0.3, 0.2, 0.1])
    pol = policy(target_size=200, fresh_share=0.25)
    # Without retirement by over-representation, cluster 0 would reach 60 a night times 10 nights.
    previous = pd.DataFrame(columns=list(POOL_COLUMNS))
    cluster0_counts = []
    for night in range(10):
        drop = f"2026-11-{night + 1:02d}"
        # Tonight's drop leans on cluster 0, so without retirement cluster 0 would keep growing.
        spec = [(60, "forum", "human_presumed", 0), (20, "wiki", "human_verified", night % 4),
                (20, "gen", "synthetic_declared", 3)]
        new = make_pool(spec, drop=drop, start=night * 1000)
        pool = pd.concat([previous, new], ignore_index=True) if len(previous) else new
        result = sample_mix(pool, pol, weights, drop, protected_clusters=[3])
        assert result.feasible
        assert_meets_policy(result, pol)
        assert_conserved(result, pool)
        new_ids = set(new["id"])
        assert result.added == len(set(result.selected["id"]) & new_ids) > 0
        assert result.added >= min(80, int(0.25 * result.size))
        # Tonight's drops lean on cluster 0, but retirement takes from the over-represented
        # cluster 0, so once the mix is full cluster 0 stops growing.
        cluster0 = int((result.selected["cluster"] == 0).sum())
        cluster0_counts.append(cluster0)
        assert set(result.retired["id"]) <= set(previous["id"])
        human3 = int(((result.selected["cluster"] == 3) & (result.selected["provenance_class"] != "synthetic_declared")).sum())
        if 3 in set(result.retired["cluster"]):
            assert human3 >= int(0.1 * result.size), "a rare cluster was thinned below its baseline share"
        held = result.held.set_index("id")
        assert (held.loc[result.retired["id"], "held_reason"].str.startswith("retired_over_represented")).all()
        # Tonight's selection is what the next night sees as published.
        previous = result.selected[list(POOL_COLUMNS)].assign(previously_published=True)
    assert cluster0_counts[-1] < max(cluster0_counts) - 50


def test_bad_pool_is_rejected():
    pool = make_pool([(3, "web", "human_verified", 0)])
    with pytest.raises(ValueError, match="missing columns"):
        sample_mix(pool.drop(columns=["cluster"]), policy(), None, TONIGHT)
    bad = pool.assign(provenance_class="human")
    with pytest.raises(ValueError, match="unknown provenance classes"):
        sample_mix(bad, policy(), None, TONIGHT)


def test_empty_pool_is_infeasible():
    empty = make_pool([(1, "a", "unknown", 0)]).iloc[:0]
    result = sample_mix(empty, policy(), None, TONIGHT)
    assert result.feasible is False
    assert result.size == 0
    assert any("no eligible records" in r for r in result.infeasible_reasons)
