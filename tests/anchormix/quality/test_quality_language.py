"""Non-English text is never dropped by an English rule.

The non-English text is real: gettext catalogs installed on this machine hold
programs' long help messages in English and as translated by people. A
translation is judged like its English original, except by the English rules.
"""

from __future__ import annotations

import json

import pytest

from anchormix.quality import QualitySettings, assess, language_of
from anchormix.quality.lang import detect_language, normalize_code

from quality_corpora import catalog_pairs

LATIN_AND_CYRILLIC = ["fr", "de", "es", "it", "pt", "nl", "sv", "pl", "ru", "uk", "da", "cs", "fi", "tr"]
UNSPACED = ["zh_CN", "ja"]
ENGLISH_ONLY = ("gopher_quality.mean_word_length", "c4.")


def _pairs(lang: str):
    pairs = catalog_pairs(lang)
    if len(pairs) < 50:
        pytest.skip(f"fewer than 50 long gettext messages installed for {lang} under /usr/share/locale")
    return pairs


def _english_failures(result) -> list[str]:
    """Failures of English-only rules; the stop-word rule with another language's list names it."""
    return [r for r in result.reasons if r.startswith(ENGLISH_ONLY)
            or (r.startswith("gopher_quality.stop_words") and "lang=" not in r)]


@pytest.mark.parametrize("lang", LATIN_AND_CYRILLIC + UNSPACED)
def test_translations_declared_in_metadata_never_fail_an_english_rule(lang):
    settings = QualitySettings()
    code = normalize_code(lang)
    for _, translation in _pairs(lang):
        result = assess(translation, settings, {"lang": code, "lang_confidence": 0.99})
        assert result.language == code and result.language_source == "metadata"
        assert not _english_failures(result), (translation[:200], result.reasons)


@pytest.mark.parametrize("lang", LATIN_AND_CYRILLIC + UNSPACED)
def test_undeclared_translations_are_detected_or_unknown_and_never_fail_an_english_rule(lang):
    settings = QualitySettings()
    pairs = _pairs(lang)
    detected_english = 0
    for _, translation in pairs:
        result = assess(translation, settings)
        if result.language == "en":
            detected_english += 1  # mostly option lists, where English words outnumber the translation's
            continue
        assert not _english_failures(result), (translation[:200], result.reasons)
    assert detected_english <= 0.03 * len(pairs)


@pytest.mark.parametrize("lang", LATIN_AND_CYRILLIC)
def test_the_detector_names_the_language_of_most_translations_and_of_their_english_originals(lang):
    pairs = _pairs(lang)
    code = normalize_code(lang)
    right = sum(1 for _, translation in pairs if detect_language(translation)[0] == code)
    english = sum(1 for source, _ in pairs if detect_language(source)[0] == "en")
    assert right >= 0.6 * len(pairs)  # the rest is mostly "und": option lists with few words
    assert english >= 0.9 * len(pairs)


def test_the_english_stop_word_rule_would_drop_translations_the_language_aware_one_keeps():
    """Why language matters: declared English, most French help texts fail the English stop words."""
    pairs = _pairs("fr")
    settings = QualitySettings()
    as_english = [assess(t, settings, {"lang": "en"}) for _, t in pairs]
    as_french = [assess(t, settings, {"lang": "fr"}) for _, t in pairs]
    english_stop_fail = sum(any(r.startswith("gopher_quality.stop_words") for r in x.reasons) for x in as_english)
    french_stop_fail = sum(any(r.startswith("gopher_quality.stop_words") for r in x.reasons) for x in as_french)
    assert english_stop_fail > 0.5 * len(pairs)
    assert french_stop_fail < 0.05 * len(pairs)


def test_chinese_text_skips_word_rules_instead_of_failing_them():
    pairs = _pairs("zh_CN")
    settings = QualitySettings()
    skipped_words = 0
    for _, translation in pairs:
        result = assess(translation, settings, {"lang": "zh"})
        assert not any(r.startswith(("gopher_quality.too_few_words", "gopher_quality.alpha_words",
                                     "gopher_repetition.top_", "fineweb.list_ratio")) for r in result.reasons)
        skipped_words += any(s.startswith("gopher_quality.too_few_words") for s in result.skipped)
    assert skipped_words > 0.5 * len(pairs)


def test_stdlib_docstrings_are_detected_as_english(human_texts):
    settings = QualitySettings()
    languages = [language_of(text, settings).code for text in human_texts]
    assert languages.count("en") >= 0.95 * len(languages)
    assert set(languages) <= {"en", "und"}


def test_metadata_language_codes_are_read_loosely_and_low_confidence_is_ignored(human_texts):
    settings = QualitySettings()
    text = human_texts[0]
    for value in ("en", "EN", "en-US", "en_GB", "eng", "eng_Latn"):
        assert language_of(text, settings, {"lang": value}).code == "en"
    assert language_of(text, settings, json.dumps({"lang": "fr"})).code == "fr"  # the store keeps JSON text
    assert language_of(text, settings, {"language": "de", "language_score": 0.9}).code == "de"  # datatrove's keys
    low = language_of(text, settings, {"lang": "fr", "lang_confidence": 0.2})
    assert (low.code, low.source) == ("en", "detected")
    for junk in (None, "", "not json", "[1, 2]", {"lang": 7}, {"lang": "??"}, {"lang": True}):
        assert language_of(text, settings, junk).source in {"detected", "none"}


def test_unknown_language_is_neutral_by_default_and_english_on_request():
    # Structural text with no words of any language: nothing tells its language.
    text = "\n".join(f"{i} {i * 7} {i * 13} xq zv" for i in range(40))
    neutral = assess(text, QualitySettings())
    assert neutral.language == "und"
    assert any(s.startswith("gopher_quality.stop_words") for s in neutral.skipped)
    english = assess(text, QualitySettings(unknown_language="english"))
    assert any(r.startswith("gopher_quality.stop_words") for r in english.reasons)
    off = assess(text, QualitySettings(detect_language=False))
    assert off.language_source == "none"
