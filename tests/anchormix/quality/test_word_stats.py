"""The batch word counts equal the same counts taken one document at a time in plain Python."""

from __future__ import annotations

from collections import Counter

import pytest

from anchormix.quality import word_stats
from anchormix.quality.gopher_repetition import NGrams
from anchormix.quality.text import is_symbol_word, split_words
from anchormix.quality.word_stats import WordStats, batch_word_stats
from tests.anchormix.quality.quality_corpora import catalog_pairs, outfox_essays, stdlib_docstrings


def _reference(tokens: tuple[str, ...], min_count: int) -> tuple:
    content = [t for t in tokens if not is_symbol_word(t)]
    grams = NGrams(tokens)
    tops = {n: grams.top_chars(n, min_count) if len(tokens) >= n else 0 for n in (2, 3, 4)}
    duplicates = {n: grams.duplicate_chars(n) for n in range(5, 11)}
    return (len(tokens), len(content), sum(map(len, content)),
            sum(1 for t in tokens if any(c.isalpha() for c in t)), tops, duplicates)


def _batched(tokens: tuple[str, ...], stats: WordStats) -> tuple:
    grams = NGrams(tokens)
    duplicates = {n: grams.duplicate_chars(n, stats.repeat_candidates[n]) if n in stats.repeat_candidates else 0
                  for n in range(5, 11)}
    return stats.words, stats.content, stats.content_chars, stats.alpha, stats.top_chars, duplicates


def _real_token_lists() -> list[tuple[str, ...]]:
    texts = list(stdlib_docstrings()[:3000]) + list(outfox_essays()[:300])
    texts += [translated for _, translated in catalog_pairs("fr")[:100]]
    return [split_words(t) for t in texts]


@pytest.mark.parametrize("min_count", [1, 2])
def test_batch_counts_equal_per_document_counts_on_real_text(min_count):
    token_lists = _real_token_lists()
    stats = batch_word_stats(token_lists, top_min_count=min_count)
    assert len(stats) == len(token_lists)
    mismatched = [i for i, (tokens, s) in enumerate(zip(token_lists, stats))
                  if _batched(tokens, s) != _reference(tokens, min_count)]
    assert mismatched == []
    # The real text does repeat n-grams, so the exact count behind the candidates is exercised.
    assert sum(1 for s in stats if s.repeat_candidates) > 100


def test_blocks_do_not_change_the_counts(monkeypatch):
    token_lists = _real_token_lists()[:400]
    whole = batch_word_stats(token_lists)
    monkeypatch.setattr(word_stats, "_BLOCK_TOKENS", 64)  # most documents alone, some several to a block
    assert batch_word_stats(token_lists) == whole


def test_ngrams_spelled_alike_by_different_tokens_are_repeat_candidates():
    # Joined without spaces, "ab c d e f" and "a bc d e f" are the same 5-gram; their tokens differ.
    tokens = ("ab", "c", "d", "e", "f", "x", "a", "bc", "d", "e", "f")
    (stats,) = batch_word_stats([tokens])
    assert NGrams(tokens).duplicate_chars(5) == len("abcdef")
    assert stats.repeat_candidates[5] == [0, 6]
    assert NGrams(tokens).duplicate_chars(5, stats.repeat_candidates[5]) == len("abcdef")


def test_a_repeat_in_one_document_is_not_credited_to_another():
    first = tuple("one two three four five six".split())
    second = first + first
    stats = batch_word_stats([first, second, first])
    assert [s.repeat_candidates.get(5, []) for s in stats] == [[], [0, 1, 6, 7], []]
    # the most frequent 2-gram of the repeated document occurs twice; of the others, once
    assert [s.top_chars[2] for s in stats] == [len("one two"), 2 * len("one two"), len("one two")]


def test_empty_and_short_documents():
    stats = batch_word_stats([(), ("word",), tuple("a b".split())])
    assert [s.words for s in stats] == [0, 1, 2]
    assert [s.top_chars[2] for s in stats] == [0, 0, len("a b")]
    assert all(s.repeat_candidates == {} for s in stats)
    assert Counter(s.top_chars[4] for s in stats) == Counter({0: 3})


def test_assess_batch_equals_assess_one_text_at_a_time():
    from anchormix.quality import QualitySettings, assess, assess_batch

    settings = QualitySettings()
    texts = list(stdlib_docstrings()[:400]) + ["", "   "]
    metadatas = [None] * len(texts)
    for english, french in catalog_pairs("fr")[:40]:
        texts += [english, french]
        metadatas += [{"lang": "en"}, {"lang": "fr", "lang_confidence": 0.99}]
    batch = assess_batch(texts, settings, metadatas)
    assert batch == [assess(t, settings, m) for t, m in zip(texts, metadatas)]
    assert batch[400].reasons == ("quality.empty",)
    with pytest.raises(ValueError, match="metadata"):
        assess_batch(texts[:2], settings, [None])
