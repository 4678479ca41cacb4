"""FineWeb's own rules (Penedo et al. 2024), as datatrove's ``FineWebQualityFilter``.

A document fails when fewer than ``fineweb_min_line_punct_fraction`` of its
non-blank lines end in sentence-terminal punctuation (any script's; with
``fineweb_line_punct_exclude_zero`` a document with none passes), when more than
``fineweb_max_short_line_fraction`` of its lines are at most
``fineweb_short_line_length`` characters long, when repeated lines hold more
than ``fineweb_max_duplicate_line_char_fraction`` of its characters, or when it
has more than ``fineweb_max_newline_word_ratio`` newlines per word (a list).

Language: the line rules count characters and punctuation of every script and
run on every document; the newline-per-word rule needs words and is skipped for
scripts written without spaces.
"""

from __future__ import annotations

from anchormix.quality.base import NEUTRAL, SPACED, Checks, Document, find_duplicates
from anchormix.quality.settings import QualitySettings
from anchormix.quality.text import TERMINAL_PUNCTUATION

NAME = "fineweb"
RULES = {"line_punct": NEUTRAL, "short_lines": NEUTRAL, "duplicate_line_chars": NEUTRAL, "list_ratio": SPACED}


def check(doc: Document, s: QualitySettings, out: Checks) -> None:
    text = doc.text
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        out.add(f"{NAME}.empty", False)
        return
    ratio = sum(1 for line in lines if line.endswith(TERMINAL_PUNCTUATION)) / len(lines)
    ok = ratio >= s.fineweb_min_line_punct_fraction or (ratio == 0 and s.fineweb_line_punct_exclude_zero)
    out.add(f"{NAME}.line_punct", ok, "{:.2f}<{}", ratio, s.fineweb_min_line_punct_fraction)
    short = sum(1 for line in lines if len(line) <= s.fineweb_short_line_length) / len(lines)
    out.add(f"{NAME}.short_lines", short <= s.fineweb_max_short_line_fraction,
            "{:.2f}>{}", short, s.fineweb_max_short_line_fraction)
    chars = len(text.replace("\n", ""))
    dup = find_duplicates(lines)[1] / chars if chars else 0.0
    out.add(f"{NAME}.duplicate_line_chars", dup <= s.fineweb_max_duplicate_line_char_fraction,
            "{:.3f}>{}", dup, s.fineweb_max_duplicate_line_char_fraction)
    if out.gate(doc, f"{NAME}.list_ratio", SPACED) and doc.stats.words:
        ratio = text.count("\n") / doc.stats.words
        out.add(f"{NAME}.list_ratio", ratio <= s.fineweb_max_newline_word_ratio,
                "{:.2f}>{}", ratio, s.fineweb_max_newline_word_ratio)
