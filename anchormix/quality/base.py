"""What every filter shares: the document being judged and the list of rule outcomes.

A rule belongs to one of three kinds, which decide whether it runs for a
document in a given language (``anchormix.quality.lang``):

- ``NEUTRAL``: lines, paragraphs and characters only; runs on every document.
- ``SPACED``: counts whitespace-separated words; runs unless the script is
  written without spaces (Chinese, Japanese, Thai, ...), where such "words"
  are whole clauses.
- ``ENGLISH``: calibrated on English; runs on English documents only (and on
  documents of unknown language when ``unknown_language = "english"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from anchormix.quality.lang import UNKNOWN, Language
from anchormix.quality.text import split_words
from anchormix.quality.word_stats import WordStats

NEUTRAL = "neutral"
SPACED = "spaced"
ENGLISH = "english"


@dataclass
class Document:
    """Normalized text plus its resolved language; words are split once, on first use.

    ``stats`` holds the word counts of :mod:`anchormix.quality.word_stats`, which
    :func:`anchormix.quality.assess_batch` counts for a whole batch at once.
    """

    text: str
    language: Language
    unknown_as_english: bool = False
    stats: WordStats | None = None

    @cached_property
    def words(self) -> tuple[str, ...]:
        # No token crosses whitespace, so the text's tokens are its lines' tokens in order.
        return split_words(self.text)

    @property
    def english(self) -> bool:
        return self.language.is_english or (self.unknown_as_english and self.language.code == UNKNOWN)

    def allows(self, kind: str) -> bool:
        if kind == NEUTRAL:
            return True
        if kind == SPACED:
            return self.language.spaced
        return self.english and self.language.spaced


@dataclass
class Checks:
    """Outcomes of the rules applied to one document, and the rules skipped (with why)."""

    failures: list[str] = field(default_factory=list)
    applied: int = 0
    skipped: list[str] = field(default_factory=list)

    def add(self, rule: str, ok: bool, detail: str = "", *values) -> None:
        """Count ``rule`` applied; on failure keep it with ``detail`` (a ``str.format`` template when ``values``
        are given: most rules pass, and formatting every figure cost more than the rules)."""
        self.applied += 1
        if not ok:
            if values:
                detail = detail.format(*values)
            self.failures.append(f"{rule}({detail})" if detail else rule)

    def skip(self, rule: str, why: str) -> None:
        self.skipped.append(f"{rule}({why})")

    def gate(self, doc: Document, rule: str, kind: str) -> bool:
        """True if ``rule`` of ``kind`` applies to ``doc``; records the skip otherwise."""
        if doc.allows(kind):
            return True
        why = "unspaced script" if not doc.language.spaced else f"lang={doc.language.code}"
        self.skip(rule, why)
        return False


def find_duplicates(items: list[str]) -> tuple[int, int]:
    """(number of items seen before, their total characters), counting every repeat."""
    # Every item but the first occurrence of each distinct one is a repeat.
    distinct = set(items)
    return len(items) - len(distinct), sum(map(len, items)) - sum(map(len, distinct))
