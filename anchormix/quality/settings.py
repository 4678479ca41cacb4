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
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from anchormix.quality.lang import ENGLISH, FUNCTION_WORDS, GOPHER_STOP_WORDS
from anchormix.settings_base import Bool, FieldError, Float, Fraction, Int, Section

FILTERS = ("gopher_quality", "gopher_repetition", "c4", "fineweb")
UNKNOWN_LANGUAGE_CHOICES = ("neutral", "english")


class QualitySettings(Section):
    """``[quality]`` thresholds. Fractions are in [0, 1]; a ``min_*`` of 0 turns that rule off."""

    # which filters run, and how a record's language is decided (anchormix.quality.lang)
    filters: tuple[str, ...] = FILTERS
    detect_language: Bool = True
    min_lang_confidence: Fraction = 0.65
    unknown_language: Literal["neutral", "english"] = "neutral"
    stop_words: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (language, words) overrides

    # Gopher quality (Rae et al. 2021, A.1.1)
    min_words: Int = Field(8, ge=0)  # published: 50
    max_words: Int = Field(100_000, ge=0)
    min_mean_word_length: Float = Field(3.0, ge=0.0)
    max_mean_word_length: Float = Field(10.0, ge=0.0)
    max_symbol_ratio: Float = Field(0.1, ge=0.0)
    max_bullet_line_fraction: Fraction = 0.9
    max_ellipsis_line_fraction: Fraction = 0.3
    min_alpha_word_fraction: Fraction = 0.6  # published: 0.8
    min_stop_words: Int = Field(2, ge=0)

    # Gopher repetition (Rae et al. 2021, table A1)
    max_duplicate_line_fraction: Fraction = 0.3
    max_duplicate_paragraph_fraction: Fraction = 0.3
    max_duplicate_line_char_fraction: Fraction = 0.2
    max_duplicate_paragraph_char_fraction: Fraction = 0.2
    top_ngram_min_count: Int = Field(2, ge=0)  # published (datatrove): 1
    max_top_2gram_char_fraction: Fraction = 0.2
    max_top_3gram_char_fraction: Fraction = 0.18
    max_top_4gram_char_fraction: Fraction = 0.16
    max_duplicate_5gram_char_fraction: Fraction = 0.15
    max_duplicate_6gram_char_fraction: Fraction = 0.14
    max_duplicate_7gram_char_fraction: Fraction = 0.13
    max_duplicate_8gram_char_fraction: Fraction = 0.12
    max_duplicate_9gram_char_fraction: Fraction = 0.11
    max_duplicate_10gram_char_fraction: Fraction = 0.10

    # C4 (Raffel et al. 2020, section 2.2), as a document filter
    c4_terminal_punctuation: Bool = False  # published: true
    c4_min_sentences: Int = Field(1, ge=0)  # published: 5
    c4_min_words_per_line: Int = Field(3, ge=0)
    c4_max_word_length: Int = Field(1000, ge=0)
    c4_remove_citations: Bool = True
    c4_lorem_ipsum: Bool = True
    c4_javascript: Bool = True
    c4_curly_bracket: Bool = True
    c4_policy: Bool = True

    # FineWeb (Penedo et al. 2024)
    fineweb_min_line_punct_fraction: Fraction = 0.12
    fineweb_line_punct_exclude_zero: Bool = True  # published: false
    fineweb_max_short_line_fraction: Fraction = 0.67
    fineweb_short_line_length: Int = Field(30, ge=0)
    fineweb_max_duplicate_line_char_fraction: Fraction = 0.01
    fineweb_max_newline_word_ratio: Float = Field(0.3, ge=0.0)

    @classmethod
    def published(cls, **overrides: Any) -> "QualitySettings":
        """Every threshold at its published (datatrove) default."""
        published = dict(min_words=50, c4_terminal_punctuation=True, c4_min_sentences=5, top_ngram_min_count=1,
                         min_alpha_word_fraction=0.8, fineweb_line_punct_exclude_zero=False)
        return cls(**{**published, **overrides})

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

    @field_validator("filters", mode="before")
    @classmethod
    def _known_filters(cls, value: Any) -> Any:
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"must be a list of filter names, got {value!r}")
        for name in value:
            if name not in FILTERS:
                raise ValueError(f"unknown filter {name!r} (allowed: {', '.join(FILTERS)})")
        if len(set(value)) != len(value):
            raise ValueError("lists a filter twice")
        return tuple(value)

    @field_validator("stop_words", mode="before")
    @classmethod
    def _stop_word_table(cls, value: Any) -> Any:
        """``[quality.stop_words]``: language code -> words, kept as sorted (code, words) pairs."""
        if isinstance(value, tuple):  # already pairs, as stored
            try:
                value = dict(value)
            except (TypeError, ValueError):
                raise ValueError(f"must be (language, words) pairs, got {value!r}") from None
        if not isinstance(value, Mapping):
            raise ValueError(f"must be a table of language = [words], got {value!r}")
        out: dict[str, tuple[str, ...]] = {}
        for code, words in value.items():
            if not (isinstance(code, str) and code.isalpha() and code.islower() and 2 <= len(code) <= 3):
                raise FieldError("must be a lowercase ISO 639 language code such as 'fr'", code)
            if not isinstance(words, (list, tuple)) or not words or not all(isinstance(w, str) and w.strip() for w in words):
                raise FieldError(f"must be a non-empty list of words, got {words!r}", code)
            out[code] = tuple(words)
        return tuple(sorted(out.items()))

    @model_validator(mode="after")
    def _ranges_ordered(self) -> "QualitySettings":
        if self.min_words > self.max_words:
            raise FieldError(f"must be <= max_words ({self.max_words})", "min_words")
        if self.min_mean_word_length > self.max_mean_word_length:
            raise FieldError(f"must be <= max_mean_word_length ({self.max_mean_word_length})", "min_mean_word_length")
        return self
