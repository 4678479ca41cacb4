"""Text normalization and the stable content hash every later stage keys on."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_HSPACE = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")

HASH_ALGORITHM = "sha256"


def normalize_text(text: str) -> str:
    """Return ``text`` in Unicode NFC with normalized whitespace.

    Line endings become ``\\n``; runs of horizontal whitespace become one space;
    each line is stripped; more than one blank line collapses to one; the result
    is stripped. Paragraph structure survives, layout noise does not.
    """
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [_HSPACE.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def content_hash(normalized: str) -> str:
    """Stable hex digest of already-normalized text (``sha256`` of its UTF-8)."""
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()
