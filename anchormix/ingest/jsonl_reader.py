"""JSON-lines inbox files (``.jsonl``, ``.ndjson``, plain or gzip).

Each line is decoded and parsed on its own, so a bad line is one quarantine
row and the lines around it still load; blank lines are skipped, not
quarantined.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

from anchormix.ingest.line_reader import fault_row, lines_for
from anchormix.ingest.raw_rows import RawRow, Unread
from anchormix.ingest.strict_json import parse_json

if TYPE_CHECKING:
    from anchormix.readers import IngestSettings


def read_jsonl(handle: BinaryIO, name: str, settings: IngestSettings, unread: Unread) -> Iterator[RawRow]:
    """Rows of a JSON-lines file, plain or gzip; blank lines are skipped, not quarantined."""
    lines = lines_for(handle, name, settings)
    while (item := lines.next_line()) is not None:
        number, data, error = item
        if error:
            yield number, None, error
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, None, f"invalid_utf8: byte {exc.start} of the line"
            continue
        yield number, *parse_json(text)
    yield from fault_row(lines, unread)
