"""C4 rules (Raffel et al. 2020, section 2.2), as datatrove's ``C4QualityFilter``, deciding keep or drop.

C4 walks the lines of a page. It removes a line with a word longer than
``c4_max_word_length``, a line not ending in terminal punctuation
(``c4_terminal_punctuation``; ``. ? ! " '``, and not an ellipsis), a line of
fewer than ``c4_min_words_per_line`` words, a line mentioning javascript
(``c4_javascript``) and a cookie/terms-of-use line (``c4_policy``). It drops the
page when a kept line says "lorem ipsum" (``c4_lorem_ipsum``) or holds a curly
bracket (``c4_curly_bracket``), or when the kept lines hold fewer than
``c4_min_sentences`` sentences. Wikipedia-style citation marks ("[1]",
"[citation needed]") are removed from a line first (``c4_remove_citations``).

anchormix applies C4 as a *document filter*: it drops the record when C4 would
drop the page, but does not rewrite the text of a kept record by removing its
lines (the quality stage judges records; it does not edit them). datatrove's
filter also rewrites the kept document; its keep/drop decision is the same.

Language: C4 is English-only by construction (mC4 replaced its line rules for
other languages), so the whole filter runs on English documents only.
"""

from __future__ import annotations

import re

from anchormix.quality.base import ENGLISH, Checks, Document
from anchormix.quality.settings import QualitySettings
from anchormix.quality.text import count_line_sentences

NAME = "c4"
RULES = {"too_few_sentences": ENGLISH, "lorem_ipsum": ENGLISH, "curly_bracket": ENGLISH}
CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
END_PUNCTUATION = (".", "?", "!", '"', "'")
ELLIPSIS = "..."
POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
                     "use cookies")  # each holds "use" or "policy", which kept_lines tests first


def kept_lines(text: str, s: QualitySettings) -> tuple[list[str], set[str]]:
    """The lines C4 keeps, and the page-level failures (lorem_ipsum, curly_bracket) it met."""
    kept: list[str] = []
    page_failures: set[str] = set()
    for line in text.splitlines():
        line = line.strip()
        words = line.split()
        if s.c4_max_word_length and words and max(map(len, words)) > s.c4_max_word_length:
            continue
        if s.c4_remove_citations and "[" in line:  # every citation mark opens with a bracket
            line = CITATION.sub("", line)
        if s.c4_terminal_punctuation and (not line.endswith(END_PUNCTUATION) or line.endswith(ELLIPSIS)):
            continue
        if len(words) < s.c4_min_words_per_line:
            continue
        lower = line.lower()
        if s.c4_lorem_ipsum and "lorem ipsum" in lower:
            page_failures.add("lorem_ipsum")
            continue
        if s.c4_javascript and "javascript" in lower:
            continue
        if s.c4_curly_bracket and "{" in line:
            page_failures.add("curly_bracket")
            continue
        if s.c4_policy and ("use" in lower or "policy" in lower) and any(p in lower for p in POLICY_SUBSTRINGS):
            continue
        kept.append(line)
    return kept, page_failures


def check(doc: Document, s: QualitySettings, out: Checks) -> None:
    if not out.gate(doc, NAME, ENGLISH):
        return
    kept, page_failures = kept_lines(doc.text, s)
    if s.c4_lorem_ipsum:
        out.add(f"{NAME}.lorem_ipsum", "lorem_ipsum" not in page_failures)
    if s.c4_curly_bracket:
        out.add(f"{NAME}.curly_bracket", "curly_bracket" not in page_failures)
    if s.c4_min_sentences:
        n = sum(map(count_line_sentences, kept))
        out.add(f"{NAME}.too_few_sentences", n >= s.c4_min_sentences, "{}<{}", n, s.c4_min_sentences)
