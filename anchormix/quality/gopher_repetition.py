"""Gopher repetition rules (Rae et al. 2021, table A1), as datatrove's ``GopherRepetitionFilter``.

A document fails when more than ``max_duplicate_paragraph_fraction`` of its
paragraphs (or ``max_duplicate_line_fraction`` of its lines) repeat an earlier
one, when those repeats hold more than ``max_duplicate_paragraph_char_fraction``
(``max_duplicate_line_char_fraction``) of its characters, when the most frequent
2-, 3- or 4-gram of words covers more than ``max_top_{n}gram_char_fraction`` of
the characters, or when repeated 5- to 10-grams cover more than
``max_duplicate_{n}gram_char_fraction``.

As in datatrove, the "most frequent" n-gram is taken even when it occurs once,
so a short document whose single 4-gram is long can fail; in anchormix's
defaults this is the rule that drops the most docstrings (see README).

Language: line and paragraph rules run on every document; the n-gram rules
need words and are skipped for scripts written without spaces.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from itertools import accumulate
from operator import itemgetter

from anchormix.quality.base import NEUTRAL, SPACED, Checks, Document, find_duplicates
from anchormix.quality.settings import QualitySettings

NAME = "gopher_repetition"
RULES = {"duplicate_paragraphs": NEUTRAL, "duplicate_paragraph_chars": NEUTRAL, "duplicate_lines": NEUTRAL,
         "duplicate_line_chars": NEUTRAL, "top_ngram": SPACED, "duplicate_ngram": SPACED}
_PARAGRAPH = re.compile(r"\n{2,}")
_LINE = re.compile(r"\n+")


class NGrams:
    """The n-grams of one word sequence as slices of one joined string, so that every n shares one join.

    The spaced n-gram at ``i`` is ``" ".join(words[i:i + n])`` and the tight one ``"".join(words[i:i + n])``
    (``words`` hold no whitespace, as :func:`~anchormix.quality.text.split_words` returns them). A slice costs
    one allocation, where ``join`` of a list slice costs two and a loop. When no spaced m-gram repeats, no
    longer one does, so larger n are answered without a pass.
    """

    def __init__(self, words: tuple[str, ...]):
        self.words = words
        self._tight = "".join(words)
        self._spaced = " ".join(words)
        self._starts = [0, *accumulate(map(len, words))]
        self._spaced_distinct_from: int | None = None

    def top_chars(self, n: int, min_count: int = 1) -> int:
        """Characters covered by the most frequent n-gram (joined by spaces) times its count;
        0 when it occurs fewer than ``min_count`` times."""
        total = len(self.words) - n + 1
        if total <= 0:
            return 0
        text, starts = self._spaced, self._starts
        if self._spaced_distinct_from is not None and n >= self._spaced_distinct_from:
            # Distinct m-grams make every longer gram distinct: each count is 1 and the first gram is the top.
            return starts[n] + n - 1 if min_count <= 1 else 0
        # Word k starts at starts[k] + k in the spaced string (k spaces before it).
        counts = Counter(text[starts[i] + i:starts[i + n] + i + n - 1] for i in range(total))
        # max() keeps the first of equal counts, as Counter.most_common(1) does: ties are broken by first
        # occurrence, and the tie decides the length.
        gram, count = max(counts.items(), key=itemgetter(1))
        if count == 1:
            self._spaced_distinct_from = n
        return len(gram) * count if count >= min_count else 0

    def duplicate_chars(self, n: int, candidates: Iterable[int] | None = None) -> int:
        """Characters of n-grams (joined without spaces) that repeat an earlier one, without overlap.

        A repeat counts its characters and skips the next n - 1 positions, which then are not remembered.
        ``candidates`` (ascending start positions; default all) must hold every position whose n-gram occurs
        more than once: the others can neither repeat nor be repeated, so only candidates are visited.
        """
        text, starts = self._tight, self._starts
        last = len(self.words) - n + 1
        if last <= 1:
            return 0
        seen: set[str] = set()
        repeated = resume = 0
        for i in range(last) if candidates is None else candidates:
            if i < resume:
                continue
            gram = text[starts[i]:starts[i + n]]
            if gram in seen:
                repeated += len(gram)
                resume = i + n
            else:
                seen.add(gram)
        return repeated


def top_ngram_chars(words: tuple[str, ...], n: int, min_count: int = 1) -> int:
    """Characters covered by the most frequent n-gram (joined by spaces) times its count;
    0 when it occurs fewer than ``min_count`` times."""
    return NGrams(words).top_chars(n, min_count)


def check(doc: Document, s: QualitySettings, out: Checks) -> None:
    text = doc.text
    n_chars = len(text)
    if not n_chars:
        out.add(f"{NAME}.empty", False)
        return
    for unit, parts, max_frac, max_char_frac in (
        ("paragraph", _PARAGRAPH.split(text.strip()), s.max_duplicate_paragraph_fraction,
         s.max_duplicate_paragraph_char_fraction),
        ("line", _LINE.split(text), s.max_duplicate_line_fraction, s.max_duplicate_line_char_fraction),
    ):
        dup, dup_chars = find_duplicates(parts)
        frac = dup / len(parts)
        out.add(f"{NAME}.duplicate_{unit}s", frac <= max_frac, "{:.2f}>{}", frac, max_frac)
        char_frac = dup_chars / n_chars
        out.add(f"{NAME}.duplicate_{unit}_chars", char_frac <= max_char_frac, "{:.2f}>{}", char_frac, max_char_frac)
    if not out.gate(doc, f"{NAME}.ngrams", SPACED):
        return
    words, stats = doc.words, doc.stats
    for n, limit in s.top_ngram_limits():
        if len(words) < n:
            continue
        frac = stats.top_chars[n] / n_chars
        out.add(f"{NAME}.top_{n}gram", frac <= limit, "{:.2f}>{}", frac, limit)
    grams = None
    for n, limit in s.duplicate_ngram_limits():
        candidates = stats.repeat_candidates.get(n)
        repeated = 0
        if candidates:
            grams = grams or NGrams(words)
            repeated = grams.duplicate_chars(n, candidates)
        frac = repeated / n_chars
        out.add(f"{NAME}.duplicate_{n}gram", frac <= limit, "{:.2f}>{}", frac, limit)
