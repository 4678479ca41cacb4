"""CSV inbox files with a header row, parsed strictly, one record at a time.

``csv.reader`` alone would let one unclosed quote swallow the rest of the file
into a single cell. Here a quoted cell that never closes is reported as
``unbalanced_quote`` at the line that opened it, and parsing re-syncs at the
line after it, so the good rows that the open quote swallowed still load.
Lines come from a bounded :class:`~anchormix.ingest.line_reader.LineReader`,
and a record may span at most ``ingest.max_line_bytes``.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from anchormix.ingest.line_reader import LineReader, fault_row, lines_for
from anchormix.ingest.raw_rows import RawRow, Unread
from anchormix.ingest.safe_text import clip, has_surrogate
from anchormix.ingest.strict_json import parse_json

if TYPE_CHECKING:
    from anchormix.readers import IngestSettings


class _LineError(Exception):
    def __init__(self, number: int, reason: str):
        super().__init__(reason)
        self.number, self.reason = number, reason


class _RecordTooLong(Exception):
    pass


class _CsvFeed:
    """Physical lines for ``csv.reader``, remembering those of the record being
    parsed so that the lines after a bad record's first can be read again."""

    def __init__(self, lines: LineReader, max_record: int):
        self._lines, self._max = lines, max_record
        self._again: deque[tuple[int, str | _LineError, int]] = deque()
        self.record: list[tuple[int, str | _LineError, int]] = []
        self.size = 0  # bytes of the record so far

    def begin(self) -> None:
        self.record, self.size = [], 0

    @property
    def pending(self) -> bool:
        return bool(self._again)

    @property
    def start(self) -> int:
        return self.record[0][0] if self.record else self._lines.number + 1

    def resync(self) -> None:
        """Read every line of the failed record but its first again."""
        self._again.extendleft(reversed(self.record[1:]))

    def __iter__(self) -> "_CsvFeed":
        return self

    def __next__(self) -> str:
        if self._again:
            number, text, size = self._again.popleft()
        else:
            # Blank lines are skipped between records but kept inside a quoted cell.
            item = self._lines.next_line(skip_blank=not self.record)
            if item is None:
                raise StopIteration
            number, data, error = item
            if error:
                text, size = _LineError(number, error), 0
            else:  # bad bytes survive as surrogates, reported per cell by _csv_row
                text, size = data.decode("utf-8", "surrogateescape") + "\n", len(data) + 1
        self.record.append((number, text, size))
        if isinstance(text, _LineError):
            raise text
        self.size += size
        if self.size > self._max:
            raise _RecordTooLong()
        return text


def read_csv(handle: BinaryIO, name: str, settings: IngestSettings, unread: Unread) -> Iterator[RawRow]:
    """Rows of a CSV file with a header; ``metadata``/``manifest`` cells may hold JSON."""
    lines = lines_for(handle, name, settings)
    feed = _CsvFeed(lines, settings.max_line_bytes)
    reader = csv.reader(feed, strict=True)
    previous_limit = csv.field_size_limit(max(settings.max_line_bytes, 131_072))
    header: list[str] | None = None
    header_error: str | None = None
    try:
        while True:
            feed.begin()
            try:
                cells = next(reader)
            except StopIteration:
                break
            except (_LineError, _RecordTooLong, csv.Error) as exc:
                if lines.stopped and not feed.pending and "unexpected end of data" in str(exc):
                    lines.dropped += feed.size  # a record cut off by the fault belongs to the unread tail
                    break
                yield feed.start, None, _csv_failure(feed, exc)
                if header is None:
                    header, header_error = [], f"line {feed.start} could not be parsed"
                if len(feed.record) > 1:
                    feed.resync()
                continue
            if not cells:
                continue
            if header is None:
                header, header_error = cells, _header_problem(cells)
                if header_error:
                    yield feed.start, None, header_error
                continue
            if header_error:
                yield feed.start, None, f"bad_csv: no usable header ({header_error})"
                continue
            yield feed.start, *_csv_row(header, cells)
    finally:
        csv.field_size_limit(previous_limit)
    yield from fault_row(lines, unread)


def _csv_failure(feed: _CsvFeed, exc: Exception) -> str:
    if isinstance(exc, _LineError) and len(feed.record) == 1:
        return exc.reason
    if isinstance(exc, _RecordTooLong):
        return (f"unbalanced_quote: quoted cell opened on line {feed.start} still open after {feed.size} bytes "
                f"(ingest.max_line_bytes); re-read from line {feed.start + 1}")
    if len(feed.record) > 1 or "unexpected end of data" in str(exc):
        return f"unbalanced_quote: quote opened on line {feed.start} does not close ({clip(str(exc))})"
    return f"bad_csv: {clip(str(exc))}"


def _header_problem(header: list[str]) -> str | None:
    if any(has_surrogate(name) for name in header):
        return "invalid_utf8: header line"
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        return f"bad_csv: header repeats column {clip(repeated[0], 60)!r}"
    return None


def _csv_row(header: list[str], cells: list[str]) -> tuple[dict[str, Any] | None, str | None]:
    if len(cells) > len(header):
        return None, "bad_csv: more cells than header columns"
    row: dict[str, Any] = {name: (cells[i] if i < len(cells) and cells[i] != "" else None)
                           for i, name in enumerate(header)}
    for name, value in row.items():
        if value is not None and has_surrogate(value):
            return row, f"invalid_utf8: column {clip(name, 60)}"  # CSV has no escapes: only bad bytes do this
    for name in ("metadata", "manifest"):
        if isinstance(row.get(name), str):
            row[name], error = parse_json(row[name])
            if error:
                detail = error.split(": ", 1)[1] if error.startswith("bad_json") else error
                return row, f"bad_json: {name} cell is not JSON ({detail})"
    return row, None
