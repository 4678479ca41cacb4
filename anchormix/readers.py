"""Inbox readers: JSONL (plain or .gz), Parquet and CSV.

Each reader yields ``(line, row_dict | None, error | None)`` so that one bad row
never stops the good rows of the same file. ``line`` is 1-based: the physical
line for JSONL and CSV (the header is line 1), the row index + 1 for Parquet.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anchormix.configtools import reject_unknown, take_number
from anchormix.records import InvalidRow, Record, validate_row

SUPPORTED_SUFFIXES = (".jsonl", ".jsonl.gz", ".json.gz", ".ndjson", ".parquet", ".csv")

RawRow = tuple[int, dict[str, Any] | None, str | None]


@dataclass(frozen=True)
class IngestSettings:
    """``[ingest]``: limits applied when reading inbox files."""

    max_text_bytes: int = 200_000

    @classmethod
    def from_mapping(cls, data: dict, prefix: str = "ingest") -> "IngestSettings":
        reject_unknown(data, ["max_text_bytes"], prefix)
        return cls(max_text_bytes=take_number(data, "max_text_bytes", prefix, 200_000, lo=1, integer=True))


@dataclass(frozen=True)
class Quarantined:
    """A row that could not be loaded, with where it was and why."""

    file: str
    line: int
    reason: str
    record_id: str | None
    excerpt: str


def is_inbox_file(path: Path) -> bool:
    """True when ``path`` has a suffix one of the readers understands."""
    return path.name.endswith(SUPPORTED_SUFFIXES)


def _decode_lines(binary: io.BufferedIOBase) -> Iterator[tuple[int, str | None, str | None]]:
    for number, raw in enumerate(binary, start=1):
        try:
            yield number, raw.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            yield number, None, f"invalid_utf8: byte {exc.start} of the line"


def read_jsonl(path: Path) -> Iterator[RawRow]:
    """Rows of a JSON-lines file; blank lines are skipped, not quarantined."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        try:
            for number, text, error in _decode_lines(handle):
                if error:
                    yield number, None, error
                    continue
                if not text.strip():
                    continue
                try:
                    yield number, json.loads(text), None
                except json.JSONDecodeError as exc:
                    yield number, None, f"bad_json: {exc.msg} at column {exc.colno}"
        except (OSError, EOFError) as exc:  # truncated or corrupt gzip
            yield -1, None, f"unreadable_file: {exc}"


def read_csv(path: Path) -> Iterator[RawRow]:
    """Rows of a CSV file with a header; ``metadata``/``manifest`` cells may hold JSON."""
    with open(path, "rb") as handle:
        lines = list(_decode_lines(handle))
    bad = {number: error for number, _, error in lines if error}
    for number, error in bad.items():
        yield number, None, error
    good = [(number, text) for number, text, error in lines if not error]
    if not good:
        return
    # The csv module tracks physical lines itself, so multi-line quoted cells keep
    # the line where their row starts.
    reader = csv.DictReader(io.StringIO("".join(text for _, text in good), newline=""))
    line_of = [number for number, _ in good]
    start = 2
    try:
        for row in reader:
            first = line_of[min(start - 1, len(line_of) - 1)]
            start = reader.line_num + 1
            if None in row:
                yield first, None, "bad_csv: more cells than header columns"
                continue
            parsed: dict[str, Any] = {k: (v if v != "" else None) for k, v in row.items()}
            for name in ("metadata", "manifest"):
                if isinstance(parsed.get(name), str):
                    try:
                        parsed[name] = json.loads(parsed[name])
                    except json.JSONDecodeError:
                        yield first, None, f"bad_json: {name} cell is not JSON"
                        break
            else:
                yield first, parsed, None
    except csv.Error as exc:
        yield line_of[min(reader.line_num, len(line_of) - 1)], None, f"bad_csv: {exc}"


def read_parquet(path: Path) -> Iterator[RawRow]:
    """Rows of a Parquet file, one record batch at a time."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        yield -1, None, f"unreadable_file: {exc}"
        return
    number = 0
    for batch in parquet.iter_batches(batch_size=10_000):
        for row in batch.to_pylist():
            number += 1
            yield number, row, None


def read_rows(path: Path) -> Iterator[RawRow]:
    """Dispatch on suffix to the right reader."""
    name = path.name
    if name.endswith((".jsonl", ".ndjson", ".jsonl.gz", ".json.gz")):
        return read_jsonl(path)
    if name.endswith(".parquet"):
        return read_parquet(path)
    if name.endswith(".csv"):
        return read_csv(path)
    raise ValueError(f"{path}: unsupported inbox file type (supported: {', '.join(SUPPORTED_SUFFIXES)})")


def load_file(path: Path, settings: IngestSettings) -> tuple[list[tuple[int, Record]], list[Quarantined]]:
    """Read and validate one inbox file into good records and quarantined rows."""
    good: list[tuple[int, Record]] = []
    bad: list[Quarantined] = []
    for line, row, error in read_rows(path):
        if error is None:
            try:
                good.append((line, validate_row(row, settings.max_text_bytes)))
                continue
            except InvalidRow as exc:
                error = exc.reason
        record_id = row.get("id") if isinstance(row, dict) and isinstance(row.get("id"), str) else None
        excerpt = json.dumps(row, default=str)[:200] if row is not None else ""
        bad.append(Quarantined(str(path), line, error, record_id, excerpt))
    return good, bad
