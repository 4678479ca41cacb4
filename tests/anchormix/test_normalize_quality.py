"""Normalization is stable; quality rules fail with reasons."""

from __future__ import annotations

import unicodedata

from anchormix.normalize import content_hash, normalize_text
from anchormix.quality import QualitySettings, assess


def test_nfc_and_whitespace_give_one_hash(human_texts):
    text = human_texts[0]
    decomposed = unicodedata.normalize("NFD", "café ") + text.replace(" ", " \t ").replace("\n", "\r\n")
    composed = "café " + text
    assert normalize_text(decomposed) == normalize_text(composed)
    assert content_hash(normalize_text(decomposed)) == content_hash(normalize_text(composed))
    assert normalize_text("a\n\n\n\nb") == "a\n\nb"


def test_real_prose_passes_and_symbol_soup_fails(human_texts):
    settings = QualitySettings()
    prose = max(human_texts[:200], key=lambda t: t.count(" the "))
    assert assess(prose, settings).passed
    soup = " ".join(["#"] * 40)
    result = assess(soup, settings)
    assert not result.passed
    assert any(r.startswith("gopher_quality.hash_ratio") for r in result.reasons)
    assert any(r.startswith("gopher_quality.too_few_words") for r in result.reasons)
    assert 0 <= result.score < 1
    # declared English, the English stop-word rule applies to it too
    english = assess(soup, settings, {"lang": "en"})
    assert any(r.startswith("gopher_quality.stop_words") for r in english.reasons)
