"""The tail probe set's choice: rare clusters only, never-published human records, stable, bounded."""

from __future__ import annotations

import pandas as pd

from anchormix.probes import probe_summary, select_probes


def _pool(n_rare: int = 20, n_common: int = 100) -> pd.DataFrame:
    rows = [{"id": f"rare-{i:03d}", "provenance_class": "human_presumed", "cluster": 5} for i in range(n_rare)]
    rows += [{"id": f"rare-syn-{i:03d}", "provenance_class": "synthetic_declared", "cluster": 5} for i in range(10)]
    rows += [{"id": f"c0-{i:03d}", "provenance_class": "human_verified", "cluster": 0} for i in range(n_common)]
    rows += [{"id": f"c4-{i:03d}", "provenance_class": "human_verified", "cluster": 4} for i in range(n_common)]
    return pd.DataFrame(rows)


def test_probes_are_human_records_of_rare_clusters_never_published():
    published = [f"rare-{i:03d}" for i in range(0, 20, 2)]
    probes = select_probes(_pool(), [5, 4], per_cluster=3, max_total=100, cluster_share=0.5, seed=0,
                           ever_published=published)
    assert set(probes["cluster"]) == {5, 4}
    assert (probes.groupby("cluster").size() == 3).all()
    assert not set(probes["id"]) & set(published)
    assert not probes["id"].str.startswith("rare-syn").any() and not probes["id"].str.startswith("c0").any()


def test_the_choice_is_seeded_and_keeps_the_previous_generations_probes():
    first = select_probes(_pool(), [5], per_cluster=3, max_total=100, cluster_share=0.5, seed=0)
    assert first.equals(select_probes(_pool(), [5], per_cluster=3, max_total=100, cluster_share=0.5, seed=0))
    assert set(first["id"]) != set(select_probes(_pool(), [5], per_cluster=3, max_total=100, cluster_share=0.5,
                                                 seed=1)["id"])
    # New records arrive in the cluster; last generation's probes stay, marked kept.
    grown = pd.concat([_pool(), pd.DataFrame([{"id": f"new-{i}", "provenance_class": "human_presumed", "cluster": 5}
                                              for i in range(30)])])
    again = select_probes(grown, [5], per_cluster=3, max_total=100, cluster_share=0.5, seed=0,
                          previous=first["id"].tolist())
    assert set(again["id"]) == set(first["id"]) and again["kept"].all()


def test_a_small_rare_cluster_keeps_most_of_its_records_for_the_mix_and_probe_max_is_shared():
    probes = select_probes(_pool(n_rare=6), [5, 4], per_cluster=5, max_total=100, cluster_share=0.2, seed=0)
    # floor(0.2 * 6) = 1 probe from the rare cluster; 5 from the larger one.
    assert probes.groupby("cluster").size().to_dict() == {5: 1, 4: 5}
    capped = select_probes(_pool(), [5, 4], per_cluster=5, max_total=4, cluster_share=0.5, seed=0)
    assert capped.groupby("cluster").size().to_dict() == {5: 2, 4: 2}
    assert select_probes(_pool(), [5], per_cluster=0, max_total=4, cluster_share=0.5).empty


def test_summary_names_clusters_by_their_terms():
    probes = select_probes(_pool(), [5], per_cluster=2, max_total=10, cluster_share=0.5, seed=0)
    clusters = [{"cluster": 5, "label": "tarfile · members", "terms": ["tarfile", "members"], "size": 20}]
    summary = probe_summary(probes, clusters)
    assert summary == {"records": 2, "clusters": 1, "kept_from_previous": 0,
                       "per_cluster": {"c5 'tarfile · members'": 2}}
