"""Cluster names from c-TF-IDF terms and central exemplars, on real text (stdlib docstrings)."""

from __future__ import annotations

import importlib
import inspect

import numpy as np
import pytest
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from anchormix.cluster_labels import TOKEN_PATTERN, cluster_name, label_clusters

# One topic per cluster; each topic is the docstrings of one or more stdlib modules.
TOPICS = {
    "json": ["json", "json.decoder", "json.encoder"],
    "zipfile": ["zipfile"],
    "datetime": ["datetime"],
    "email": ["email.message"],
}


def _docs(module_name: str) -> list[tuple[str, str]]:
    """(id, docstring) of the public functions, classes and methods defined in a module."""
    mod = importlib.import_module(module_name)
    out = []
    for name, obj in sorted(vars(mod).items()):
        if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        if getattr(obj, "__module__", None) != mod.__name__:
            continue
        items = [(name, obj)]
        if inspect.isclass(obj):
            items += [(f"{name}.{a}", b) for a, b in sorted(vars(obj).items()) if not a.startswith("_") and callable(b)]
        for item_id, item in items:
            doc = inspect.getdoc(item)
            if doc and len(doc) > 40:
                out.append((f"{module_name}:{item_id}", doc))
    return out


@pytest.fixture(scope="module")
def corpus():
    texts, ids, labels = [], [], []
    for c, modules in enumerate(TOPICS.values()):
        for module_name in modules:
            for item_id, doc in _docs(module_name):
                texts.append(doc)
                ids.append(item_id)
                labels.append(c)
    labels = np.array(labels, dtype=np.int64)
    x = TfidfVectorizer().fit_transform(texts)
    vectors = TruncatedSVD(n_components=16, random_state=0).fit_transform(x).astype(np.float32)
    centroids = np.stack([vectors[labels == c].mean(axis=0) for c in range(len(TOPICS))]).astype(np.float32)
    return texts, ids, labels, vectors, centroids


def test_every_topic_is_named_by_characteristic_terms(corpus):
    texts, ids, labels, vectors, centroids = corpus
    assert all(np.bincount(labels, minlength=len(TOPICS)) >= 3)
    clusters = label_clusters(texts, ids, labels, vectors, centroids, n_terms=5)
    assert [d["cluster"] for d in clusters] == list(range(len(TOPICS)))
    by_topic = dict(zip(TOPICS, clusters))

    for d in clusters:
        assert d["size"] == int((labels == d["cluster"]).sum())
        assert len(d["terms"]) == 5
        assert d["label"] == " · ".join(d["terms"])

    assert {"json", "decoder", "encoder", "decode", "encode"} & set(by_topic["json"]["terms"])
    assert {"zip", "archive", "zipfile"} & set(by_topic["zipfile"]["terms"])
    assert {"datetime", "date", "time", "tzinfo", "utc"} & set(by_topic["datetime"]["terms"])
    assert {"message", "header", "headers", "payload"} & set(by_topic["email"]["terms"])

    # The top-3 names tell the topics apart: few shared terms between any two.
    top3 = [set(d["terms"][:3]) for d in clusters]
    for i in range(len(top3)):
        for j in range(i + 1, len(top3)):
            assert len(top3[i] & top3[j]) <= 1, (clusters[i]["label"], clusters[j]["label"])


def test_terms_follow_the_ctfidf_formula(corpus):
    texts, ids, labels, vectors, centroids = corpus
    k = len(centroids)
    docs = [" ".join(t for t, lab in zip(texts, labels) if lab == c) for c in range(k)]
    vec = CountVectorizer(stop_words="english", token_pattern=TOKEN_PATTERN)
    counts = vec.fit_transform(docs).toarray().astype(float)
    vocab = vec.get_feature_names_out()
    avg_words = counts.sum(axis=1).mean()
    scores = counts / counts.sum(axis=1, keepdims=True) * np.log(1 + avg_words / counts.sum(axis=0))

    clusters = label_clusters(texts, ids, labels, vectors, centroids, n_terms=4)
    for c, d in enumerate(clusters):
        got = [scores[c, list(vocab).index(t)] for t in d["terms"]]
        assert got == sorted(got, reverse=True)
        assert got[-1] >= np.sort(scores[c])[-4] - 1e-12


def test_exemplars_are_the_members_closest_to_the_centroid(corpus):
    texts, ids, labels, vectors, centroids = corpus
    clusters = label_clusters(texts, ids, labels, vectors, centroids)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    for c, d in enumerate(clusters):
        members = np.flatnonzero(labels == c)
        cos = unit[members] @ (centroids[c] / np.linalg.norm(centroids[c]))
        expected = [ids[i] for i in members[np.argsort(-cos, kind="stable")[:3]]]
        assert d["exemplars"] == expected
        assert all(e.startswith(tuple(TOPICS[list(TOPICS)[c]])) for e in d["exemplars"])


def test_empty_cluster_and_empty_vocabulary(corpus):
    texts, ids, labels, vectors, centroids = corpus
    extra = np.vstack([centroids, -centroids[:1]])  # a fifth centroid nobody belongs to
    clusters = label_clusters(texts, ids, labels, vectors, extra)
    assert len(clusters) == len(TOPICS) + 1
    assert clusters[-1] == {"cluster": 4, "label": "cluster 4 (empty)", "terms": [], "exemplars": [], "size": 0}
    assert clusters[0]["terms"]

    # Texts without usable words (empty, digits, stop words only): fallback names, exemplars still given.
    blank = ["", "42 1999", "the and of", ""]
    out = label_clusters(blank, ["a", "b", "c", "d"], np.array([0, 0, 1, 1]), vectors[:4], centroids[:2])
    assert [d["label"] for d in out] == ["cluster 0", "cluster 1"]
    assert [d["terms"] for d in out] == [[], []]
    assert [sorted(d["exemplars"]) for d in out] == [["a", "b"], ["c", "d"]]


def test_mismatched_inputs_are_rejected(corpus):
    texts, ids, labels, vectors, centroids = corpus
    with pytest.raises(ValueError):
        label_clusters(texts[:-1], ids, labels, vectors, centroids)
    with pytest.raises(ValueError):
        label_clusters(texts, ids, labels, vectors, centroids[:2])


def test_cluster_name_with_and_without_labels(corpus):
    texts, ids, labels, vectors, centroids = corpus
    clusters = label_clusters(texts, ids, labels, vectors, np.vstack([centroids, centroids[:1]]))
    assert cluster_name(clusters, 1) == f"c1 '{clusters[1]['label']}'"
    assert " · " in cluster_name(clusters, 1)
    assert cluster_name(clusters, 4) == "c4 (empty)"
    assert cluster_name(None, 11) == "c11"
    assert cluster_name([], 11) == "c11"
    assert cluster_name(clusters, 99) == "c99"
