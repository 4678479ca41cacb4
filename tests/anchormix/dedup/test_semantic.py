"""Semantic (embedding) duplicates: clustered FAISS search vs exact pairs, and the representative rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anchormix.dedup.semantic import (
    auto_clusters,
    brute_force_pairs,
    candidate_pairs,
    priority_rank,
    semantic_duplicates,
)


def realistic_vectors(n: int = 6000, d: int = 384, seed: int = 0, dup_frac: float = 0.15) -> np.ndarray:
    """Unit vectors shaped like sentence embeddings, with planted near duplicates.

    Real embeddings share a common direction (average cosine well above 0) and
    gather by topic; near duplicates are perturbations at a spread of cosines
    around tau, so many pairs sit near the decision boundary and across k-means
    cluster boundaries.
    """
    rng = np.random.default_rng(seed)
    mean = rng.normal(size=d)
    mean /= np.linalg.norm(mean)
    topics = rng.normal(size=(60, d))
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    topic = rng.integers(0, 60, n)
    x = 0.5 * mean + 0.8 * topics[topic] + 0.6 * rng.normal(size=(n, d)) / np.sqrt(d)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    m = int(n * dup_frac)
    src = rng.integers(0, n, m)
    noise = rng.normal(size=(m, d))
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    y = x[src] + rng.uniform(0.05, 0.45, (m, 1)) * noise
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    return np.vstack([x, y]).astype(np.float32)


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_brute_force_pairs_match_a_naive_double_loop():
    rng = np.random.default_rng(1)
    x = unit(rng.normal(size=(60, 5)))
    got = brute_force_pairs(x, 0.9)
    want = {(i, j) for i in range(60) for j in range(i + 1, 60) if float(x[i] @ x[j]) >= 0.9}
    assert set(zip(got.i, got.j)) == want and want
    assert (got.i < got.j).all()


@pytest.mark.parametrize("tau", [0.9, 0.95])
def test_clustered_faiss_finds_at_least_99_percent_of_exact_pairs(tau):
    x = realistic_vectors()
    exact = set(zip(brute_force_pairs(x, tau).i, brute_force_pairs(x, tau).j))
    found = candidate_pairs(x, tau)  # defaults: auto clusters, nprobe 8
    found_set = set(zip(found.i, found.j))
    assert len(exact) > 300
    assert len(exact & found_set) / len(exact) >= 0.99
    assert found_set <= exact | {(i, j) for i, j, s in zip(found.i, found.j, found.similarity) if abs(s - tau) < 1e-5}
    assert auto_clusters(len(x)) > 10  # the clustered path, not one flat index, was exercised


def test_history_always_wins_and_only_new_records_are_marked():
    base = unit(np.eye(4)[:3] + 0.01)
    # new0 ~ hist0; new1 ~ new2 (new1 first); hist1 ~ hist2 are left alone; new3 unique.
    vectors = np.vstack(
        [
            base[0],
            base[1],
            unit(base[1] + 0.05 * np.eye(4)[3]),
            unit(base[0] + 0.05 * np.eye(4)[3]),
            base[2],
            unit(base[2] + 0.05 * np.eye(4)[3]),
            unit(np.ones(4)),
        ]
    )
    ids = ["hist0", "hist1", "hist2", "new0", "new1", "new2", "new3"]
    is_history = np.array([True, True, True, False, False, False, False])
    dups = semantic_duplicates(ids, vectors, is_history, tau=0.95, n_clusters=1).set_index("id")
    assert set(dups.index) == {"new0", "new2"}
    assert dups.loc["new0", "duplicate_of"] == "hist0"
    assert dups.loc["new2", "duplicate_of"] == "new1"
    assert (dups["similarity"] >= 0.95).all()

    # A priority flips which new record is kept: new2 now goes first.
    prio = np.array([0, 0, 0, 5, 9, 1, 3])
    dups = semantic_duplicates(ids, vectors, is_history, tau=0.95, n_clusters=1, priority=prio).set_index("id")
    assert dups.loc["new1", "duplicate_of"] == "new2" and "new2" not in dups.index


def test_chains_do_not_drop_records_unlike_the_representative():
    # a~b and b~c at cos 0.96, but a and c only at ~0.85: c is kept once b is dropped.
    angle = np.arccos(0.96)
    vectors = unit([[np.cos(k * angle), np.sin(k * angle), 0.0] for k in range(3)])
    dups = semantic_duplicates(["a", "b", "c"], vectors, np.zeros(3, bool), tau=0.95, n_clusters=1)
    assert dups.to_dict("records") == [{"id": "b", "duplicate_of": "a", "similarity": pytest.approx(0.96, abs=1e-4)}]


def test_priority_rank_earliest_drop_then_quality_then_id():
    ids = ["d", "c", "b", "a"]
    drops = ["2024-01-02", "2024-01-01", "2024-01-01", "2024-01-01"]
    quality = [1.0, 0.5, 0.9, 0.9]
    rank = priority_rank(ids, drops, quality)
    assert [ids[i] for i in np.argsort(rank)] == ["a", "b", "c", "d"]
    assert priority_rank(["b", "a"]).tolist() == [1, 0]


def test_clustered_dedup_agrees_with_flat_search_on_planted_duplicates():
    x = realistic_vectors(n=2000, seed=3)
    ids = [f"r{i:05d}" for i in range(len(x))]
    is_history = np.zeros(len(x), bool)
    is_history[:1000] = True
    clustered = semantic_duplicates(ids, x, is_history, tau=0.95)
    flat = semantic_duplicates(ids, x, is_history, tau=0.95, n_clusters=1)
    assert not clustered.empty
    assert not clustered["id"].isin(ids[:1000]).any()
    overlap = len(set(clustered["id"]) & set(flat["id"])) / len(flat)
    assert overlap >= 0.99


def test_empty_and_all_history_inputs():
    empty = semantic_duplicates([], np.zeros((0, 4), np.float32), np.zeros(0, bool), tau=0.95)
    assert list(empty.columns) == ["id", "duplicate_of", "similarity"] and empty.empty
    x = unit(np.ones((3, 4)))
    assert semantic_duplicates(["a", "b", "c"], x, np.ones(3, bool), tau=0.95).empty
    with pytest.raises(ValueError):
        semantic_duplicates(["a"], x, np.ones(3, bool), tau=0.95)
    assert isinstance(brute_force_pairs(x, 0.99), pd.DataFrame)
