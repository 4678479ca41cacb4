"""What every reader yields, and the tally of what it could not read.

A reader yields ``(line, row_dict | None, error | None)`` so that one bad row
never stops the good rows of the same file. ``line`` is 1-based: the physical
line for JSONL and CSV (the header is line 1), the row index + 1 for Parquet;
0 stands for the file as a whole. A part of the file that could not be read at
all is one error row, and its size goes into :class:`Unread`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RawRow = tuple[int, dict[str, Any] | None, str | None]


@dataclass
class Unread:
    """Rows (Parquet) and bytes (text files) a reader had to give up on."""

    rows: int = 0
    bytes: int = 0
