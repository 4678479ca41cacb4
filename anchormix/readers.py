"""Inbox readers: JSONL (plain or .gz), Parquet, CSV and WARC/WET. The public entry point.

:func:`read_file` picks a reader by suffix and validates every row it yields
into a :class:`FileLoad`: each row seen is loaded or quarantined with a reason,
so no input may crash a drop or lose rows unseen. A part of a file that could
not be read at all (a corrupt or truncated gzip, the size cap, a corrupt
Parquet row group) is one quarantine row of its own whose reason says how many
bytes or rows were not read. The readers themselves live in
:mod:`anchormix.ingest`, one job per module; the names other code uses are
re-exported here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import Field, model_validator

from anchormix.ingest.csv_reader import read_csv
from anchormix.ingest.jsonl_reader import read_jsonl
from anchormix.ingest.line_reader import LineReader
from anchormix.ingest.parquet_reader import read_parquet
from anchormix.ingest.raw_rows import RawRow, Unread
from anchormix.ingest.regular_file import NotRegularFile, file_kind, open_regular
from anchormix.ingest.row_checks import row_problem
from anchormix.ingest.safe_text import clean_text, clip
from anchormix.ingest.strict_json import parse_json
from anchormix.ingest.warc_reader import WARC_SUFFIXES, read_warc
from anchormix.records import InvalidRow, Record, validate_row
from anchormix.settings_base import FieldError, Int, Section

__all__ = [
    "JSONL_SUFFIXES", "MAX_LINE_BYTES", "SUPPORTED_SUFFIXES", "WARC_SUFFIXES", "FileLoad", "IngestSettings",
    "LineReader", "NotRegularFile", "Quarantined", "RawRow", "clean_text", "file_kind", "is_inbox_file", "load_file",
    "open_regular", "parse_json", "read_csv", "read_file", "read_jsonl", "read_parquet", "read_warc", "row_problem",
]

SUPPORTED_SUFFIXES = (".jsonl", ".jsonl.gz", ".json.gz", ".ndjson", ".parquet", ".csv") + WARC_SUFFIXES
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".json.gz")
MAX_LINE_BYTES = 2**31 - 1  # csv.field_size_limit takes a C long


class IngestSettings(Section):
    """``[ingest]``: limits applied when reading inbox files.

    ``max_line_bytes`` defaults to four times ``max_text_bytes`` (JSON escapes
    can quadruple a text) and must be at least ``max_text_bytes``;
    ``max_decompressed_bytes`` caps the bytes read from one file after
    decompression (plain files count their own bytes).
    """

    max_text_bytes: Int = Field(200_000, ge=1, le=MAX_LINE_BYTES)
    max_line_bytes: Int = Field(None, ge=1, le=MAX_LINE_BYTES, validate_default=False)
    max_decompressed_bytes: Int = Field(1 << 30, ge=1, le=2**53)

    @model_validator(mode="before")
    @classmethod
    def _default_line_limit(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("max_line_bytes") is None:
            text = data.get("max_text_bytes", 200_000)
            if isinstance(text, float) and text.is_integer():
                text = int(text)
            if isinstance(text, int) and not isinstance(text, bool) and 1 <= text <= MAX_LINE_BYTES:
                data = {**data, "max_line_bytes": min(4 * text, MAX_LINE_BYTES)}
        return data

    @model_validator(mode="after")
    def _line_holds_a_text(self) -> "IngestSettings":
        if self.max_line_bytes < self.max_text_bytes:
            raise FieldError(f"must be >= max_text_bytes ({self.max_text_bytes}), got {self.max_line_bytes}",
                             "max_line_bytes")
        return self


@dataclass(frozen=True)
class Quarantined:
    """A row that could not be loaded, with where it was and why."""

    file: str
    line: int
    reason: str
    record_id: str | None
    excerpt: str


@dataclass
class FileLoad:
    """One file's outcome. Every row seen is loaded or quarantined; a part that
    could not be read at all is one quarantine row, and ``unread_rows`` /
    ``unread_bytes`` say how much it held (bytes after the fault on disk plus
    decompressed bytes of a line cut off by it)."""

    file: str
    good: list[tuple[int, Record]] = field(default_factory=list)
    bad: list[Quarantined] = field(default_factory=list)
    unread_rows: int = 0
    unread_bytes: int = 0

    @property
    def rows_seen(self) -> int:
        return len(self.good) + len(self.bad)


def is_inbox_file(path: Path) -> bool:
    """True when ``path`` has a suffix one of the readers understands."""
    return path.name.endswith(SUPPORTED_SUFFIXES)


def _reader(name: str):
    if name.endswith(JSONL_SUFFIXES):
        return read_jsonl
    if name.endswith(".parquet"):
        return read_parquet
    if name.endswith(".csv"):
        return read_csv
    if name.endswith(WARC_SUFFIXES):
        return read_warc
    raise ValueError(f"{name}: unsupported inbox file type (supported: {', '.join(SUPPORTED_SUFFIXES)})")


def read_file(handle: BinaryIO, file: str, settings: IngestSettings, name: str | None = None) -> FileLoad:
    """Read and validate one open inbox file into a :class:`FileLoad`; never raises for bad content.

    ``file`` is what quarantine rows show; ``name`` (default ``file``) picks the reader by suffix.
    """
    load, unread = FileLoad(file=file), Unread()
    rows = _reader(name or file)(handle, name or file, settings, unread)
    line = 0
    try:
        for line, row, error in rows:
            if error is None and isinstance(row, dict):
                error = row_problem(row)
            if error is None:
                try:
                    load.good.append((line, validate_row(row, settings.max_text_bytes)))
                    continue
                except InvalidRow as exc:
                    error = exc.reason
                except RecursionError:
                    error = "bad_json: nested too deep"
                except (TypeError, ValueError, OverflowError) as exc:
                    error = f"bad_value: {type(exc).__name__}: {clip(str(exc))}"
            load.bad.append(Quarantined(file, line, clean_text(error), _record_id(row), _excerpt(row)))
    except Exception as exc:  # a reader fault no branch above foresaw must not take the drop down
        lost = max(0, os.fstat(handle.fileno()).st_size - handle.tell())
        unread.bytes += lost
        reason = f"truncated_file: reading stopped ({type(exc).__name__}: {clip(str(exc))}); {lost} bytes unread"
        load.bad.append(Quarantined(file, line + 1, reason, None, ""))
    load.unread_rows, load.unread_bytes = unread.rows, unread.bytes
    return load


def _record_id(row: Any) -> str | None:
    value = row.get("id") if isinstance(row, dict) else None
    return clean_text(value) if isinstance(value, str) else None


def _excerpt(row: Any) -> str:
    if row is None:
        return ""
    try:
        return json.dumps(row, default=str)[:200]  # ensure_ascii: escapes, never raw bytes
    except (RecursionError, ValueError, TypeError):
        return ""


def load_file(path: Path, settings: IngestSettings) -> tuple[list[tuple[int, Record]], list[Quarantined]]:
    """Read and validate one inbox file into good records and quarantined rows."""
    with open_regular(path) as handle:
        load = read_file(handle, str(path), settings, name=path.name)
    return load.good, load.bad
