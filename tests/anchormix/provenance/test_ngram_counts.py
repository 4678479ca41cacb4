"""The hashed n-gram counter gives exactly scikit-learn's TF-IDF matrix for the detector's two analyzers."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from anchormix.provenance.detector_features import BlockFeatures, _analyzer_params
from anchormix.provenance.ngram_counts import TfidfFromCounts, VocabularyCounter
from tests.anchormix.provenance.conftest import harvest_stdlib_docstrings


def _hostile(texts: list[str]) -> list[str]:
    """Real texts bent the ways a crawl bends them: case, odd whitespace, astral and combining characters."""
    a, b, c = texts[:3]
    return [
        "", " \t\n ", a.upper(), a.replace(" ", "\u00a0", 5), b.replace(" ", "\u2003\u2003"),
        c.replace("e", "e\u0301"), "\U0001F600 ".join(a.split()[:30]), "\u0130" + b,  # "İ".lower() is 2 chars
        "\x1c".join(c.split()[:20]), a[:1], "".join(a.split()),
    ]


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], list[str]]:
    texts = harvest_stdlib_docstrings(min_words=8, limit=900)
    return texts[:500], texts[500:] + _hostile(texts[500:])


@pytest.mark.parametrize("block", ["word", "char"])
def test_same_matrix_as_scikit_learn(corpus, block):
    fit, score = corpus
    vectorizer = TfidfVectorizer(**_analyzer_params(block), min_df=2, sublinear_tf=True, dtype=np.float32).fit(fit)
    expected = vectorizer.transform(score)
    got = TfidfFromCounts(vectorizer).transform(score)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    assert got.nnz == expected.nnz and got.nnz > 1000
    assert abs(got - expected).max() < 1e-6


def test_counts_of_a_word_outside_the_vocabulary_and_of_bigrams():
    counter = VocabularyCounter({"the": 0, "the cat": 1, "cat": 2, ".": 3}, "word", (1, 2), r"(?u)\b\w+\b|[^\w\s]")
    m = counter.transform(["The cat. The dog the cat", "dog"]).toarray()
    assert m.tolist() == [[3, 2, 2, 1], [0, 0, 0, 0]]


def test_saved_features_do_not_carry_the_hash_tables(corpus):
    fit, score = corpus
    features = BlockFeatures({"char": 1.0}, 200_000)
    features.vectorizers = {"char": TfidfVectorizer(**_analyzer_params("char"), min_df=2, sublinear_tf=True,
                                                    dtype=np.float32).fit(fit)}
    features.spans = {}
    before = features.transform(score[:20], None)
    restored = pickle.loads(pickle.dumps(features))
    assert "_fast" in features.__dict__ and "_fast" not in restored.__dict__
    assert abs(restored.transform(score[:20], None) - before).max() == 0


@pytest.mark.parametrize("block", ["word", "char"])
def test_training_counts_are_scikit_learns_without_the_ngrams_seen_once(corpus, block):
    from sklearn.feature_extraction.text import CountVectorizer

    from anchormix.provenance.ngram_counts import FastTermCounts

    texts = corpus[1]
    params = _analyzer_params(block)
    cv = CountVectorizer(**params, dtype=np.float32)
    full = cv.fit_transform(texts).tocsr()
    seen_twice = np.flatnonzero(np.asarray(full.sum(axis=0)).ravel() >= 2)
    fast = FastTermCounts(texts, params["analyzer"], params["ngram_range"], params.get("token_pattern"))
    assert fast.vocabulary.tolist() == cv.get_feature_names_out()[seen_twice].tolist()
    assert abs(fast.counts - full[:, seen_twice]).max() == 0


def test_chunked_counting_and_discovery_agree_with_one_pass(corpus, monkeypatch):
    from anchormix.provenance import ngram_counts

    texts = corpus[1]
    whole = {b: ngram_counts.FastTermCounts(texts, **_fast_params(b)) for b in ("word", "char")}
    monkeypatch.setattr(ngram_counts, "CHUNK_TEXTS", 37)
    for block, one_pass in whole.items():
        chunked = ngram_counts.FastTermCounts(texts, **_fast_params(block))
        assert chunked.vocabulary.tolist() == one_pass.vocabulary.tolist()
        assert abs(chunked.counts - one_pass.counts).max() == 0


def _fast_params(block: str) -> dict:
    params = _analyzer_params(block)
    return {"analyzer": params["analyzer"], "ngram_range": params["ngram_range"],
            "token_pattern": params.get("token_pattern")}
