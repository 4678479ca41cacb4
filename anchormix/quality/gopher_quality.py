"""Gopher quality rules (Rae et al. 2021, appendix A.1.1), as datatrove's ``GopherQualityFilter``.

A document fails when it has fewer than ``min_words`` or more than
``max_words`` words (punctuation tokens not counted), a mean word length
outside [``min_mean_word_length``, ``max_mean_word_length``], more than
``max_symbol_ratio`` hash symbols or ellipses per word, more than
``max_bullet_line_fraction`` of lines starting with a bullet or more than
``max_ellipsis_line_fraction`` ending with an ellipsis, fewer than
``min_alpha_word_fraction`` of words holding a letter, or fewer than
``min_stop_words`` distinct stop words.

Language: the stop-word rule uses the document's own language's list
(``QualitySettings.stop_words_for``) and is skipped for a language without one;
the mean word length is English-calibrated and runs on English only; the
counts run on every script that separates words with spaces.
"""

from __future__ import annotations

from anchormix.quality.base import ENGLISH, NEUTRAL, SPACED, Checks, Document
from anchormix.quality.lang import UNKNOWN
from anchormix.quality.settings import QualitySettings

NAME = "gopher_quality"
RULES = {
    "too_few_words": SPACED, "too_many_words": SPACED, "mean_word_length": ENGLISH, "hash_ratio": SPACED,
    "ellipsis_ratio": SPACED, "bullet_lines": NEUTRAL, "ellipsis_lines": NEUTRAL, "alpha_words": SPACED,
    "stop_words": ENGLISH,
}
BULLETS = ("•", "-")
ELLIPSES = ("...", "…")


def check(doc: Document, s: QualitySettings, out: Checks) -> None:
    text, stats = doc.text, doc.stats
    n_words, n_content = stats.words, stats.content

    def applies(rule: str) -> bool:
        return out.gate(doc, f"{NAME}.{rule}", RULES[rule])

    if s.min_words and applies("too_few_words"):
        out.add(f"{NAME}.too_few_words", n_content >= s.min_words, "{}<{}", n_content, s.min_words)
    if s.max_words and applies("too_many_words"):
        out.add(f"{NAME}.too_many_words", n_content <= s.max_words, "{}>{}", n_content, s.max_words)
    if n_content and applies("mean_word_length"):
        mean = stats.content_chars / n_content
        ok = (not s.min_mean_word_length or mean >= s.min_mean_word_length) and (
            not s.max_mean_word_length or mean <= s.max_mean_word_length)
        out.add(f"{NAME}.mean_word_length", ok, "{:.2f}", mean)
    if n_words and applies("hash_ratio"):
        ratio = text.count("#") / n_words
        out.add(f"{NAME}.hash_ratio", ratio <= s.max_symbol_ratio, "{:.3f}>{}", ratio, s.max_symbol_ratio)
    if n_words and applies("ellipsis_ratio"):
        ratio = (text.count("...") + text.count("…")) / n_words
        out.add(f"{NAME}.ellipsis_ratio", ratio <= s.max_symbol_ratio, "{:.3f}>{}", ratio, s.max_symbol_ratio)
    lines = text.splitlines()
    if lines:
        bullets = sum(1 for line in lines if line.lstrip().startswith(BULLETS)) / len(lines)
        if applies("bullet_lines"):
            out.add(f"{NAME}.bullet_lines", bullets <= s.max_bullet_line_fraction,
                    "{:.2f}>{}", bullets, s.max_bullet_line_fraction)
        ellipsis = sum(1 for line in lines if line.rstrip().endswith(ELLIPSES)) / len(lines)
        if applies("ellipsis_lines"):
            out.add(f"{NAME}.ellipsis_lines", ellipsis <= s.max_ellipsis_line_fraction,
                    "{:.2f}>{}", ellipsis, s.max_ellipsis_line_fraction)
    if n_words and s.min_alpha_word_fraction and applies("alpha_words"):
        alpha = stats.alpha / n_words
        out.add(f"{NAME}.alpha_words", alpha >= s.min_alpha_word_fraction,
                "{:.2f}<{}", alpha, s.min_alpha_word_fraction)
    if s.min_stop_words:
        _stop_words(doc, s, out)


def _stop_words(doc: Document, s: QualitySettings, out: Checks) -> None:
    rule = f"{NAME}.stop_words"
    if not doc.language.spaced:
        out.skip(rule, "unspaced script")
        return
    code = doc.language.code
    if code == UNKNOWN:
        if not doc.english:
            out.skip(rule, "lang=und")
            return
        code = "en"
    vocabulary = s.stop_words_for(code)
    if vocabulary is None:
        out.skip(rule, f"no stop words for lang={code}")
        return
    found = len(set(vocabulary).intersection(doc.words))
    out.add(rule, found >= s.min_stop_words, "{}<{}{}", found, s.min_stop_words,
            "" if code == "en" else f" lang={code}")
