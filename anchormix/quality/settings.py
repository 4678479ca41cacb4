"""``[quality]``: every rule's threshold, with the published default unless noted.

The published values are datatrove's defaults for ``GopherQualityFilter``,
``GopherRepetitionFilter``, ``C4QualityFilter`` and ``FineWebQualityFilter``
(which follow Rae et al. 2021, Raffel et al. 2020 and Penedo et al. 2024);
``QualitySettings.published()`` gives them all. anchormix's records are short
docstrings and essays as well as web pages, and six published values would
drop most of the standard-library docstrings the demo uses, so their defaults
differ (shares are of those 1,318 docstrings, each rule alone):

- ``min_words`` 8, not 50: the 50-word floor drops 62 %.
- ``c4_terminal_punctuation`` off and ``c4_min_sentences`` 1, not on and 5: C4
  keeps only lines ending in ``. ! ? " '`` and then needs five sentences, which
  drops 93 % of docstrings, whose lines are hard-wrapped mid-sentence.
- ``min_alpha_word_fraction`` 0.6, not 0.8: the fraction is over tokens where
  every punctuation mark is a word, and docstrings cite code ("f(x, y)."), so
  0.8 drops 52 %; 0.6 drops the 6 % most symbol-dense and no OUTFOX essay.
- ``fineweb_line_punct_exclude_zero`` on, not off: 14 % have no line ending in
  punctuation at all (one unterminated paragraph, or cut at the harvest's
  120-word limit); FineWeb's option for this keeps them, while a document with
  a few punctuated lines among many is still judged.
- ``top_ngram_min_count`` 2, not 1: datatrove takes the "most frequent" n-gram
  even when every n-gram occurs once, so in a short text one long 4-gram
  "repeats" (22 % dropped); with 2, only a real repeat counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from anchormix.configtools import reject_unknown, take_bool, take_fraction, take_number, take_str, take_table
from anchormix.errors import ConfigError
from anchormix.quality.lang import ENGLISH, FUNCTION_WORDS, GOPHER_STOP_WORDS

FILTERS = ("gopher_quality", "gopher_repetition", "c4", "fineweb")
UNKNOWN_LANGUAGE_CHOICES = ("neutral", "english")

# name -> (kind, lower bound) for numbers that are not fractions in [0, 1].
_INTEGERS = {"top_ngram_min_count", "min_words", "max_words", "min_stop_words", "c4_min_sentences", "c4_min_words_per_line",
             "c4_max_word_length", "fineweb_short_line_length"}
_NUMBERS = {"min_mean_word_length", "max_mean_word_length", "max_symbol_ratio", "fineweb_max_newline_word_ratio"}
_BOOLS = {"detect_language", "c4_terminal_punctuation", "c4_remove_citations", "c4_lorem_ipsum",
          "c4_javascript", "c4_curly_bracket", "c4_policy", "fineweb_line_punct_exclude_zero"}


@dataclass(frozen=True)
class QualitySettings:
    """``[quality]`` thresholds. Fractions are in [0, 1]; a ``min_*`` of 0 turns that rule off."""

    # which filters run, and how a record's language is decided (anchormix.quality.lang)
    filters: tuple[str, ...] = FILTERS
    detect_language: bool = True
    min_lang_confidence: float = 0.65
    unknown_language: str = "neutral"
    stop_words: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (language, words) overrides

    # Gopher quality (Rae et al. 2021, A.1.1)
    min_words: int = 8  # published: 50
    max_words: int = 100_000
    min_mean_word_length: float = 3.0
    max_mean_word_length: float = 10.0
    max_symbol_ratio: float = 0.1
    max_bullet_line_fraction: float = 0.9
    max_ellipsis_line_fraction: float = 0.3
    min_alpha_word_fraction: float = 0.6  # published: 0.8
    min_stop_words: int = 2

    # Gopher repetition (Rae et al. 2021, table A1)
    max_duplicate_line_fraction: float = 0.3
    max_duplicate_paragraph_fraction: float = 0.3
    max_duplicate_line_char_fraction: float = 0.2
    max_duplicate_paragraph_char_fraction: float = 0.2
    top_ngram_min_count: int = 2  # published (datatrove): 1
    max_top_2gram_char_fraction: float = 0.2
    max_top_3gram_char_fraction: float = 0.18
    max_top_4gram_char_fraction: float = 0.16
    max_duplicate_5gram_char_fraction: float = 0.15
    max_duplicate_6gram_char_fraction: float = 0.14
    max_duplicate_7gram_char_fraction: float = 0.13
    max_duplicate_8gram_char_fraction: float = 0.12
    max_duplicate_9gram_char_fraction: float = 0.11
    max_duplicate_10gram_char_fraction: float = 0.10

    # C4 (Raffel et al. 2020, section 2.2), as a document filter
    c4_terminal_punctuation: bool = False  # published: true
    c4_min_sentences: int = 1  # published: 5
    c4_min_words_per_line: int = 3
    c4_max_word_length: int = 1000
    c4_remove_citations: bool = True
    c4_lorem_ipsum: bool = True
    c4_javascript: bool = True
    c4_curly_bracket: bool = True
    c4_policy: bool = True

    # FineWeb (Penedo et al. 2024)
    fineweb_min_line_punct_fraction: float = 0.12
    fineweb_line_punct_exclude_zero: bool = True  # published: false
    fineweb_max_short_line_fraction: float = 0.67
    fineweb_short_line_length: int = 30
    fineweb_max_duplicate_line_char_fraction: float = 0.01
    fineweb_max_newline_word_ratio: float = 0.3

    @classmethod
    def published(cls, **overrides: Any) -> "QualitySettings":
        """Every threshold at its published (datatrove) default."""
        base = cls(min_words=50, c4_terminal_punctuation=True, c4_min_sentences=5, top_ngram_min_count=1,
                   min_alpha_word_fraction=0.8, fineweb_line_punct_exclude_zero=False)
        return replace(base, **overrides)

    def stop_words_for(self, code: str) -> tuple[str, ...] | None:
        """The stop words of language ``code``: ``[quality.stop_words]``, else built in, else None."""
        overrides = dict(self.stop_words)
        if code in overrides:
            return overrides[code]
        if code == ENGLISH:
            return GOPHER_STOP_WORDS
        return FUNCTION_WORDS.get(code)

    def top_ngram_limits(self) -> tuple[tuple[int, float], ...]:
        return tuple((n, getattr(self, f"max_top_{n}gram_char_fraction")) for n in (2, 3, 4))

    def duplicate_ngram_limits(self) -> tuple[tuple[int, float], ...]:
        return tuple((n, getattr(self, f"max_duplicate_{n}gram_char_fraction")) for n in range(5, 11))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], prefix: str = "quality") -> "QualitySettings":
        """Validate ``[quality]``; every error names its dotted key."""
        names = [f.name for f in fields(cls)]
        reject_unknown(data, names, prefix)
        defaults = cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            default = getattr(defaults, f.name)
            if f.name == "filters":
                values[f.name] = _take_filters(data, prefix, default)
            elif f.name == "unknown_language":
                values[f.name] = take_str(data, f.name, prefix, default, choices=UNKNOWN_LANGUAGE_CHOICES)
            elif f.name == "stop_words":
                values[f.name] = _take_stop_words(data, prefix)
            elif f.name in _BOOLS:
                values[f.name] = take_bool(data, f.name, prefix, default)
            elif f.name in _INTEGERS:
                values[f.name] = take_number(data, f.name, prefix, default, lo=0, integer=True)
            elif f.name in _NUMBERS:
                values[f.name] = float(take_number(data, f.name, prefix, default, lo=0))
            else:
                values[f.name] = take_fraction(data, f.name, prefix, default)
        settings = cls(**values)
        if settings.min_words > settings.max_words:
            raise ConfigError(f"{prefix}.min_words", f"must be <= max_words ({settings.max_words})")
        if settings.min_mean_word_length > settings.max_mean_word_length:
            raise ConfigError(f"{prefix}.min_mean_word_length",
                              f"must be <= max_mean_word_length ({settings.max_mean_word_length})")
        return settings


def _take_filters(data: Mapping[str, Any], prefix: str, default: tuple[str, ...]) -> tuple[str, ...]:
    key = f"{prefix}.filters"
    if "filters" not in data:
        return default
    value = data["filters"]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(key, f"must be a list of filter names, got {value!r}")
    for name in value:
        if name not in FILTERS:
            raise ConfigError(key, f"unknown filter {name!r} (allowed: {', '.join(FILTERS)})")
    if len(set(value)) != len(value):
        raise ConfigError(key, "lists a filter twice")
    return tuple(value)


def _take_stop_words(data: Mapping[str, Any], prefix: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    table = take_table(data, "stop_words", prefix)
    out: dict[str, tuple[str, ...]] = {}
    for code, words in table.items():
        key = f"{prefix}.stop_words.{code}"
        if not (isinstance(code, str) and code.isalpha() and code.islower() and 2 <= len(code) <= 3):
            raise ConfigError(key, "must be a lowercase ISO 639 language code such as 'fr'")
        if not isinstance(words, list) or not words or not all(isinstance(w, str) and w.strip() for w in words):
            raise ConfigError(key, f"must be a non-empty list of words, got {words!r}")
        out[code] = tuple(words)
    return tuple(sorted(out.items()))
