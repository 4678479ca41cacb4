"""Each rule fails with a reason that names it; [quality] is validated key by key.

Text is either real (standard-library docstrings, OUTFOX essays) or structural
(repeated tokens, bullets, numbers) for the edge cases.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from anchormix.config import parse_settings
from anchormix.errors import ConfigError
from anchormix.quality import FILTERS, QualitySettings, assess
from anchormix.stages.quality import quality_drop
from anchormix.store import init_schema  # noqa: F401  (the con fixture uses it)

from quality_corpora import catalog_pairs, outfox_essays, stdlib_docstrings

EN = {"lang": "en"}
README = Path(__file__).resolve().parents[3] / "README.md"


@pytest.fixture(scope="module")
def prose() -> str:
    """A long standard-library docstring that passes every rule."""
    settings = QualitySettings()
    for text in sorted(stdlib_docstrings(), key=len, reverse=True):
        if assess(text, settings, EN).passed and text.count("\n") >= 3:
            return text
    pytest.fail("no standard-library docstring passes the default rules")


def _rules(result) -> set[str]:
    return {r.split("(", 1)[0] for r in result.reasons}


def test_reasons_name_filter_and_rule_and_score_counts_rules(prose):
    result = assess(" ".join(["#"] * 40), QualitySettings(), EN)
    assert not result.passed and 0 <= result.score < 1
    assert {"gopher_quality.too_few_words", "gopher_quality.hash_ratio"} <= _rules(result)
    assert all(re.fullmatch(r"(gopher_quality|gopher_repetition|c4|fineweb)\.\w+(\(.*\))?", r) for r in result.reasons)
    ok = assess(prose, QualitySettings(), EN)
    assert ok.passed and ok.score == 1.0 and ok.reasons == ()


@pytest.mark.parametrize("edit, rule", [
    (lambda t: " ".join(t.split()[:4]), "gopher_quality.too_few_words"),
    (lambda t: " ".join(["x"] * 80), "gopher_quality.mean_word_length"),
    (lambda t: t + " " + " ".join(["#"] * 40), "gopher_quality.hash_ratio"),
    (lambda t: t + " " + " ".join(["…"] * 40), "gopher_quality.ellipsis_ratio"),
    (lambda t: "\n".join("- " + line for line in t.splitlines() if line.strip()), "gopher_quality.bullet_lines"),
    (lambda t: "\n".join(line + " ..." for line in t.splitlines() if line.strip()), "gopher_quality.ellipsis_lines"),
    (lambda t: t + " " + " ".join(str(i) for i in range(400)), "gopher_quality.alpha_words"),
    (lambda t: re.sub(r"\b(the|be|to|of|and|that|have|with)\b", "x", t), "gopher_quality.stop_words"),
    (lambda t: "\n\n".join([t] * 3), "gopher_repetition.duplicate_paragraphs"),
    (lambda t: "\n".join([t] * 3), "gopher_repetition.duplicate_line_chars"),
    (lambda t: t + " " + " ".join(["alpha beta"] * 60), "gopher_repetition.top_2gram"),
    (lambda t: " ".join([t] * 2), "gopher_repetition.duplicate_10gram"),
    (lambda t: t + "\nlorem ipsum dolor sit amet", "c4.lorem_ipsum"),
    (lambda t: t + "\nvalue = { key : 1 }", "c4.curly_bracket"),
    (lambda t: "\n".join(t.split()), "fineweb.short_lines"),
    (lambda t: "\n".join(t.split()), "fineweb.list_ratio"),
    (lambda t: t + "\n" + "\n".join([t.splitlines()[0]] * 3), "fineweb.duplicate_line_chars"),
])
def test_each_rule_fails_with_its_name(prose, edit, rule):
    result = assess(edit(prose), QualitySettings(), EN)
    assert rule in _rules(result), (rule, result.reasons)


def test_published_rules_c4_sentences_terminal_punctuation_and_line_punctuation(prose):
    wrapped = " ".join(prose.split())  # one line, no final period
    published = QualitySettings.published(min_words=8)
    result = assess(wrapped.rstrip(".") + " and so on", published, EN)
    assert {"c4.too_few_sentences", "fineweb.line_punct"} <= _rules(result)
    # anchormix's defaults keep one unpunctuated paragraph (see anchormix.quality.settings)
    assert not {"c4.too_few_sentences", "fineweb.line_punct"} & _rules(
        assess(wrapped.rstrip(".") + " and so on", QualitySettings(), EN))


def test_top_ngram_min_count_is_the_difference_from_datatrove_on_short_text():
    docs = stdlib_docstrings()
    once = [t for t in docs if "gopher_repetition.top_4gram" in _rules(
        assess(t, QualitySettings(top_ngram_min_count=1, filters=("gopher_repetition",)), EN))]
    assert once, "some docstring has a long 4-gram that occurs once"
    kept = [t for t in once if assess(t, QualitySettings(filters=("gopher_repetition",)), EN).passed]
    assert len(kept) >= len(once) // 2


def test_filters_setting_runs_only_the_named_filters(prose):
    soup = " ".join(["#"] * 40)
    only = assess(soup, QualitySettings(filters=("fineweb",)), EN)
    assert all(r.startswith("fineweb.") for r in only.reasons)
    assert assess(soup, QualitySettings(filters=()), EN).passed


def test_essays_mostly_pass_the_defaults():
    essays = outfox_essays()[:300]
    if not essays:
        pytest.skip("OUTFOX essays absent (../shared/data/outfox/valid.jsonl)")
    kept = sum(assess(t, QualitySettings()).passed for t in essays)
    assert kept >= 0.9 * len(essays)


# -- configuration -------------------------------------------------------------------------------

def test_empty_section_gives_defaults_and_published_differs_only_where_documented():
    assert QualitySettings.model_validate({}) == QualitySettings()
    published, default = QualitySettings.published(), QualitySettings()
    differing = {name for name in QualitySettings.model_fields if getattr(published, name) != getattr(default, name)}
    assert differing == {"min_words", "c4_terminal_punctuation", "c4_min_sentences", "min_alpha_word_fraction",
                         "fineweb_line_punct_exclude_zero", "top_ngram_min_count"}


def test_every_key_parses_from_toml_values():
    data = {"filters": ["c4", "fineweb"], "detect_language": False, "min_lang_confidence": 0.5,
            "unknown_language": "english", "stop_words": {"fr": ["le", "la"]}, "min_words": 20,
            "max_mean_word_length": 12, "c4_min_sentences": 3, "fineweb_max_newline_word_ratio": 0.5,
            "max_top_3gram_char_fraction": 0.2}
    s = QualitySettings.model_validate(data)
    assert s.filters == ("c4", "fineweb") and s.stop_words_for("fr") == ("le", "la")
    assert (s.min_words, s.c4_min_sentences, s.max_mean_word_length) == (20, 3, 12.0)
    assert s.stop_words_for("en") == ("the", "be", "to", "of", "and", "that", "have", "with")


@pytest.mark.parametrize("data, key", [
    ({"min_word": 5}, "quality.min_word"),
    ({"min_words": 10, "max_words": 5}, "quality.min_words"),
    ({"min_mean_word_length": 11}, "quality.min_mean_word_length"),
    ({"min_words": 2.5}, "quality.min_words"),
    ({"max_symbol_ratio": -1}, "quality.max_symbol_ratio"),
    ({"max_top_2gram_char_fraction": 1.5}, "quality.max_top_2gram_char_fraction"),
    ({"min_lang_confidence": float("nan")}, "quality.min_lang_confidence"),
    ({"fineweb_max_newline_word_ratio": float("inf")}, "quality.fineweb_max_newline_word_ratio"),
    ({"c4_terminal_punctuation": "yes"}, "quality.c4_terminal_punctuation"),
    ({"filters": ["gopher"]}, "quality.filters"),
    ({"filters": "c4"}, "quality.filters"),
    ({"filters": ["c4", "c4"]}, "quality.filters"),
    ({"unknown_language": "french"}, "quality.unknown_language"),
    ({"stop_words": {"French": ["le"]}}, "quality.stop_words.French"),
    ({"stop_words": {"fr": []}}, "quality.stop_words.fr"),
    ({"stop_words": ["le"]}, "quality.stop_words"),
])
def test_bad_values_name_their_dotted_key(tmp_path, data, key):
    with pytest.raises(ConfigError) as err:
        parse_settings({"quality": data}, tmp_path)
    assert err.value.key == key


def test_readme_lists_every_quality_key():
    text = README.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `[quality]`"))
    section = text[text.index("### Quality filters"):]
    for name in QualitySettings.model_fields:
        assert f"`{name}`" in row or f"`{name}`" in section, name
    assert set(FILTERS) == {"gopher_quality", "gopher_repetition", "c4", "fineweb"}


# -- the stage ----------------------------------------------------------------------------------

def test_stage_reads_each_records_language_from_its_metadata(con):
    pairs = catalog_pairs("fr")
    if not pairs:
        pytest.skip("no French gettext catalogs under /usr/share/locale")
    french = next(t for _, t in pairs if assess(t, QualitySettings(), {"lang": "fr"}).passed)
    rows = [("as-fr", '{"lang": "fr", "lang_confidence": 0.98}'), ("as-en", '{"lang": "en"}'), ("no-meta", None)]
    for record_id, metadata in rows:
        con.execute("INSERT INTO raw_records (id, drop, text, metadata) VALUES (?, 'd', ?, ?)",
                    [record_id, french, metadata])
        con.execute("INSERT INTO normalized (id, drop, norm_text) VALUES (?, 'd', ?)", [record_id, french])
        con.execute("INSERT INTO dedup (id, drop, status) VALUES (?, 'd', 'unique')", [record_id])
    summary = quality_drop(con, "d", QualitySettings())
    got = dict(con.execute("SELECT id, passed FROM quality WHERE drop = 'd'").fetchall())
    assert got["as-fr"] is True and got["no-meta"] is True  # detected as French, or unknown
    assert got["as-en"] is False  # declared English: the English stop words apply
    assert summary["reasons"].get("gopher_quality.stop_words") == 1


def test_quality_settings_replace_keeps_validation_semantics():
    s = QualitySettings().model_copy(update={"min_words": 0})
    assert not any(r.startswith("gopher_quality.too_few_words") for r in assess("one two", s, EN).reasons)


def test_line_sentence_count_equals_the_tokenizing_count_on_real_lines(monkeypatch):
    from anchormix.quality import text as text_module

    count_sentences = text_module.count_sentences
    tokenized = []
    monkeypatch.setattr(text_module, "count_sentences", lambda line: tokenized.append(line) or count_sentences(line))
    texts = list(stdlib_docstrings()) + list(outfox_essays()) + [t for pair in catalog_pairs("fr") for t in pair]
    lines = {line.strip() for text in texts for line in text.splitlines()}
    # Closing runs with marks, marks before the run, a lone mark, symbols only, whitespace only.
    lines |= {"", " \t", "!", "...", "?!)", "a.", "a. b", "a .b", "a.)", "a.) b", "(a)", "a。b", "a ‼ »", "— ."}
    assert len(lines) > 10_000
    for line in lines:
        assert text_module.count_line_sentences(line) == count_sentences(line), line
    assert 0 < len(tokenized) < len(lines) * 3 // 4  # the shortcut answers most lines, the tokenizer the rest
