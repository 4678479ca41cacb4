"""A bounded ``readline`` over an inbox text file (JSONL or CSV, plain or gzip).

No input may exhaust memory or hide rows: no line longer than
``ingest.max_line_bytes`` and no more than ``ingest.max_decompressed_bytes``
per file is ever held or read. When reading stops early (a corrupt or
truncated gzip, the size cap, a UTF-16 file) the lines read before the fault
still load, and :func:`fault_row` turns the lost tail into one quarantine row
whose reason says how many bytes were not read.
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

from anchormix.ingest.byte_streams import CHUNK, GzipStream, PlainStream
from anchormix.ingest.raw_rows import RawRow, Unread
from anchormix.ingest.safe_text import clip

if TYPE_CHECKING:
    from anchormix.readers import IngestSettings

_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_BLANK = re.compile(rb"[ \t\r\n\f\v]*")


class LineReader:
    """Lines of a byte stream, each at most ``max_line`` bytes, at most ``max_total`` bytes in all.

    A bounded ``readline``: a longer line is skipped to its newline without
    being held, and comes back as a ``line_too_long`` error; runs of blank lines
    are skipped in bulk by one regex scan, so a file of newlines costs no row
    each. A UTF-8 BOM at the start is dropped. When the stream fails or passes
    ``max_total``, reading stops; :meth:`fault` then describes what was lost.
    """

    def __init__(self, stream: PlainStream | GzipStream, max_line: int, max_total: int):
        self._stream, self.max_line, self.max_total = stream, max_line, max_total
        self._buf, self._pos = b"", 0
        self.number = 0  # the last physical line handed out or skipped
        self.total = 0
        self.stopped: str | None = None
        self.dropped = 0  # decompressed bytes read but cut off by a fault
        self._end = False
        self._at_start = True

    def _fill(self) -> bool:
        if self._end:
            return False
        try:
            chunk = self._stream.read(CHUNK)
        except (OSError, EOFError, zlib.error) as exc:
            kind = "truncated_file" if self.total else "unreadable_file"
            what = "gzip stream" if self._stream.compressed else "file"
            self._stop(f"{kind}: {what} failed after {self.total} good bytes ({type(exc).__name__}: {clip(str(exc))})")
            return False
        if not chunk:
            self._end = True
            return False
        self.total += len(chunk)
        if self.total > self.max_total:
            keep = len(chunk) - (self.total - self.max_total)
            self.dropped += len(chunk) - keep
            chunk, self.total = chunk[:keep], self.max_total
            self._stop(f"decompressed_size_limit: stopped at ingest.max_decompressed_bytes ({self.max_total})")
        self._buf = self._buf[self._pos:] + chunk
        self._pos = 0
        if self._at_start and (self.total >= len(_BOM) or self._end):
            self._at_start = False
            if self.total == len(self._buf):  # nothing handed out yet: this is the start of the file
                self._check_start()
        return True

    def _check_start(self) -> None:
        if self._buf.startswith(_BOM):
            self._pos = len(_BOM)
        elif self._buf.startswith(_UTF16_BOMS):
            self.abandon("unreadable_file: UTF-16 byte order mark; inbox files must be UTF-8")

    def _stop(self, reason: str) -> None:
        self.stopped, self._end = reason, True

    def abandon(self, reason: str) -> None:
        """Stop reading: everything not yet handed out counts as unread."""
        self.dropped += len(self._buf) - self._pos
        self._buf, self._pos = b"", 0
        self._stop(reason)

    def fault(self) -> tuple[int, str, int] | None:
        """``(line, reason, unread_bytes)`` for the part not read, or None after a clean end."""
        if self.stopped is None:
            return None
        left = self._stream.remaining()
        detail = f"{left} {'compressed ' if self._stream.compressed else ''}bytes of the file"
        if self.dropped:
            detail += f" + {self.dropped} bytes read but cut off"
        reason = f"{self.stopped}; {left + self.dropped} bytes unread ({detail}) from line {self.number + 1} on"
        return self.number + 1, reason, left + self.dropped

    def next_line(self, skip_blank: bool = True) -> tuple[int, bytes | None, str | None] | None:
        """The next ``(number, line, error)`` (line without its newline), or None at the end."""
        while True:
            if skip_blank:
                end = _BLANK.match(self._buf, self._pos).end()
                self.number += self._buf.count(b"\n", self._pos, end)
                self._pos = end
            newline = self._buf.find(b"\n", self._pos)
            if newline >= 0:
                line = self._buf[self._pos:newline]
                self._pos = newline + 1
                self.number += 1
                if len(line) > self.max_line:
                    return self.number, None, self._too_long(len(line))
                return self.number, line, None
            if len(self._buf) - self._pos > self.max_line:
                return self._skip_long_line()
            if self._fill():
                continue
            rest = self._buf[self._pos:]
            self._buf, self._pos = b"", 0
            if self.stopped:
                self.dropped += len(rest)
                return None
            if not rest or (skip_blank and not rest.strip()):
                return None
            self.number += 1
            return self.number, rest, None

    def _too_long(self, size: int) -> str:
        return f"line_too_long: {size} bytes > ingest.max_line_bytes ({self.max_line}); line skipped"

    def _skip_long_line(self) -> tuple[int, None, str]:
        skipped = len(self._buf) - self._pos
        self._buf, self._pos = b"", 0
        while self._fill():
            newline = self._buf.find(b"\n")
            if newline >= 0:
                skipped += newline
                self._pos = newline + 1
                break
            skipped += len(self._buf)
            self._buf = b""
        self.number += 1
        return self.number, None, self._too_long(skipped)


def lines_for(handle: BinaryIO, name: str, settings: IngestSettings) -> LineReader:
    """A :class:`LineReader` over ``handle``, gunzipped when ``name`` ends in ``.gz``."""
    size = os.fstat(handle.fileno()).st_size
    stream = GzipStream(handle, size) if name.endswith(".gz") else PlainStream(handle, size)
    return LineReader(stream, settings.max_line_bytes, settings.max_decompressed_bytes)


def fault_row(lines: LineReader, unread: Unread) -> Iterator[RawRow]:
    """The quarantine row for the part ``lines`` could not read, if any; counts its bytes in ``unread``."""
    fault = lines.fault()
    if fault:
        number, reason, lost = fault
        unread.bytes += lost
        yield number, None, reason
