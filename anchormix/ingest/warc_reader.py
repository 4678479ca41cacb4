"""WARC and WET inbox files (``.warc``, ``.warc.gz``, ``.wet``, ``.wet.gz``), one record at a time.

``fastwarc`` parses the records (WARC and HTTP headers, charsets, content
codings); the bytes come from this module's own stream, so that a gzip
member cut short or corrupt, and the ``ingest.max_decompressed_bytes`` cap,
stop reading the same way they stop the JSONL reader: the records before the
fault load, and the unread tail is one quarantine row whose reason says how
many bytes of the file were not read. fastwarc alone would end silently at a
cut-off gzip member and hand out a cut-off record as if it were whole; here
every record's block is counted against its ``Content-Length``.

What becomes a row (each row seen is loaded or quarantined):

- ``response`` records: the HTTP payload. HTML (``text/html``,
  ``application/xhtml+xml``) gives its main text, ``text/plain`` its text.
  Anything else is quarantined as ``not_text:<content-type>``, a status other
  than 2xx as ``http_status:<code>``.
- ``resource`` records: the same, with the WARC ``Content-Type``.
- ``conversion`` records (WET): already text.
- A page with no main text is ``no_main_text``; a record block larger than
  ``ingest.max_line_bytes`` is ``oversized_record`` and is skipped unread;
  a ``continuation`` record (or any record with ``WARC-Segment-Number``) is
  ``segmented_record``: segments are not reassembled. HTTP headers fastwarc
  cannot parse are ``bad_http``, a content coding other than gzip, deflate or
  br (or one that does not decode) ``bad_encoding``, and a failure of the text
  pipeline on a record read whole ``bad_content``.

One row per record, rather than one summary row per file: conservation (rows
seen = loaded + quarantined) then holds record by record, and the quarantine
table groups by reason code. A row of a skipped record is small (id, url,
reason), against the record itself.

``warcinfo``, ``request``, ``metadata`` and ``revisit`` records (and types the
WARC spec does not define, which it says to skip) carry no content: they are
read past, checked for truncation, and make no row.

Fields: ``url`` is ``WARC-Target-URI``, ``fetched_at`` is ``WARC-Date``, ``id``
is the ``WARC-Record-ID`` (without its angle brackets; a record without one
gets ``warc-`` and a hash of the file name and offset), ``source`` is the file
name up to its first ``-`` or ``.`` (``webcrawl-2026.warc.gz`` gives
``webcrawl``), as a WARC record has no source of its own. The "line" of a row
is the record's byte offset in the file plus one (line 0 stays "the whole
file"); in a ``.warc.gz`` it is the offset of the gzip member the record
starts in, the offset a CDX index gives. ``metadata`` holds ``lang`` and
``lang_confidence`` (:mod:`anchormix.ingest.language`), ``warc_record_id``,
``warc_type``, ``warc_offset`` (and ``warc_stream_offset``, the offset after
decompression, in a gzip file), ``content_type``, ``charset``, ``http_status``,
``ftfy_fixed`` (whether :func:`~anchormix.ingest.html_text.repair` changed the
text) and ``warc_truncated`` when the crawler cut the payload
(``WARC-Truncated``).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from anchormix.ingest import html_text
from anchormix.ingest.byte_streams import CHUNK, GzipStream, PlainStream
from anchormix.ingest.language import identify
from anchormix.ingest.raw_rows import RawRow, Unread
from anchormix.ingest.safe_text import clean_text, clip

if TYPE_CHECKING:
    from anchormix.readers import IngestSettings

WARC_SUFFIXES = (".warc", ".warc.gz", ".wet", ".wet.gz")
CONTENT_TYPES = ("response", "resource", "conversion")
_SOURCE = re.compile(r"[-.]")
_MAX_MEMBERS = 1 << 16  # gzip member starts remembered ahead of the record being read
_PARAM_CHARSET = re.compile(r";\s*charset\s*=\s*\"?([^\";\s]+)", re.IGNORECASE)


def warc_source(name: str) -> str:
    """The source of a WARC file's records: its file name up to the first ``-`` or ``.``."""
    return _SOURCE.split(os.path.basename(name), maxsplit=1)[0]


class SizeLimit(Exception):
    """Reading went past ``ingest.max_decompressed_bytes``."""


class BrokenRecord(Exception):
    """A record whose framing cannot be trusted: reading stops at it."""


class _MemberGzip(GzipStream):
    """:class:`GzipStream` that also notes where each gzip member starts, decompressed and on disk."""

    def __init__(self, raw: BinaryIO, size: int):
        super().__init__(raw, size)
        self.out = 0
        self.members: deque[tuple[int, int]] = deque()

    def _member_started(self) -> None:
        if len(self.members) < _MAX_MEMBERS:  # bounded even for a record split into tiny members
            self.members.append((self.out, self._pos - len(self._input)))

    def _produced(self, n: int) -> None:
        self.out += n

    def disk_offset(self, pos: int) -> int:
        """Offset on disk of the member that holds decompressed position ``pos`` (earlier ones are forgotten)."""
        while len(self.members) > 1 and self.members[1][0] <= pos:
            self.members.popleft()
        return self.members[0][1] if self.members else 0

    def next_member_after(self, pos: int) -> int | None:
        """Offset on disk of the first member starting after decompressed position ``pos``, if one started."""
        return next((disk for start, disk in self.members if start > pos), None)


class _Feed(io.RawIOBase):
    """The decompressed WARC bytes for fastwarc, counted against ``max_decompressed_bytes``.

    fastwarc asks a Python stream for its position but reads it forward only.
    """

    def __init__(self, stream: PlainStream | _MemberGzip, cap: int):
        super().__init__()
        self.stream, self.cap, self.total, self.dropped = stream, cap, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.total

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if (whence == io.SEEK_CUR and offset == 0) or (whence == io.SEEK_SET and offset == self.total):
            return self.total
        raise OSError("a WARC inbox stream is read forward only")

    def read(self, n: int | None = -1) -> bytes:
        if n == 0:
            return b""
        if self.dropped:
            raise SizeLimit()
        chunk = self.stream.read(CHUNK if n is None or n < 0 else min(n, CHUNK))
        room = self.cap - self.total
        if len(chunk) > room:
            self.dropped, chunk = len(chunk) - room, chunk[:room]
            if not chunk:
                raise SizeLimit()
        self.total += len(chunk)
        return chunk

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


@dataclass
class _Seen:
    """A record read: where it starts (decompressed, and on disk) and how long its block is."""

    pos: int
    offset: int
    length: int


def read_warc(handle: BinaryIO, name: str, settings: IngestSettings, unread: Unread) -> Iterator[RawRow]:
    """Rows of a WARC or WET file, plain or gzip: one per content record (see the module doc)."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    size = os.fstat(handle.fileno()).st_size
    gz = name.endswith(".gz")
    stream: PlainStream | _MemberGzip = _MemberGzip(handle, size) if gz else PlainStream(handle, size)
    feed = _Feed(stream, settings.max_decompressed_bytes)
    source = warc_source(name)
    last: _Seen | None = None
    try:
        records = ArchiveIterator(feed, parse_http=False, record_types=WarcRecordType.any_type, stream_detect=False)
    except Exception as exc:  # noqa: BLE001 - an unreadable start is one row, like any other fault
        yield _fault_row(exc, None, 0, size, gz, feed, unread)
        return
    while True:
        outcome, at = None, None
        try:
            record = next(records)
            at = _Seen(record.stream_pos, _disk_offset(stream, record.stream_pos), 0)
            outcome = _take(record, at, name, source, settings)
        except StopIteration:
            return
        except BaseException as exc:  # noqa: BLE001 - fastwarc's Rust panics are BaseExceptions
            if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
                raise
            cut = at.offset if at is not None else _end_of(last, handle, stream, size)
            yield _fault_row(exc, at, cut, size, gz, feed, unread)
            return
        last = at
        if outcome is not None:
            row, error = outcome
            yield at.offset + 1, row, error


def _disk_offset(stream: PlainStream | _MemberGzip, pos: int) -> int:
    return stream.disk_offset(pos) if isinstance(stream, _MemberGzip) else pos


def _end_of(last: _Seen | None, handle: BinaryIO, stream: PlainStream | _MemberGzip, size: int) -> int:
    """Offset on disk just past the last whole record (where the unread tail starts)."""
    if last is None:
        return 0
    if isinstance(stream, _MemberGzip):
        after = stream.next_member_after(last.pos)
        return after if after is not None else max(0, size - stream.remaining())
    head = os.pread(handle.fileno(), 1 << 16, last.offset)
    blank = head.find(b"\r\n\r\n")
    if blank < 0:
        return last.offset
    end = last.offset + blank + 4 + last.length
    if os.pread(handle.fileno(), 4, end) == b"\r\n\r\n":
        end += 4
    return min(end, size)


def _fault_row(exc: BaseException, at: _Seen | None, cut: int, size: int, gz: bool, feed: _Feed,
               unread: Unread) -> RawRow:
    lost = max(0, size - cut)
    unread.bytes += lost
    if isinstance(exc, SizeLimit):
        what = f"decompressed_size_limit: stopped at ingest.max_decompressed_bytes ({feed.cap})"
    else:
        kind = "truncated_file" if cut > 0 or at is not None else "unreadable_file"
        where = f"record at byte {at.offset}" if at is not None else f"WARC stream at byte {cut}"
        what = f"{kind}: {where} failed ({type(exc).__name__}: {clip(str(exc))})"
    unit = "compressed bytes" if gz else "bytes"
    return cut + 1, None, f"{what}; {lost} bytes unread ({unit} {cut}-{size} of the file) from line {cut + 1} on"


# --- one record -----------------------------------------------------------------------------------


def _take(record, at: _Seen, name: str, source: str, settings: IngestSettings) -> tuple[Any, str | None] | None:
    """``(row, error)`` for a content record, None for one that carries no content.

    Raises :class:`BrokenRecord` when the record's block is cut short or its
    framing is broken: reading cannot go on past it.
    """
    headers = record.headers
    kind = str(record.record_type)
    if headers.get("WARC-Type") is None:
        raise BrokenRecord("no WARC-Type header")
    length = headers.get("Content-Length")
    if length is None or not length.strip().isdigit():
        raise BrokenRecord(f"Content-Length {clip(str(length), 40)!r} is not a byte count")
    at.length = int(length)
    if kind not in CONTENT_TYPES and kind != "continuation":
        _skip(record, record.content_length)
        return None
    row = _base_row(record, at, name, source)
    if kind == "continuation" or headers.get("WARC-Segment-Number") is not None:
        _skip(record, record.content_length)
        return row, "segmented_record: WARC record segments are not reassembled"
    if at.length > settings.max_line_bytes:
        _skip(record, record.content_length)
        return row, f"oversized_record: {at.length} bytes > ingest.max_line_bytes ({settings.max_line_bytes}); not read"
    meta = row["metadata"]
    if kind == "conversion":
        payload, mime, charset = _read(record, record.content_length), "text/plain", "utf-8"
    elif kind == "response" and record.is_http:
        try:
            record.parse_http(auto_decode="none")
        except OSError as exc:  # the block is still framed: read past it
            _skip(record, record.content_length)
            return row, f"bad_http: {clip(str(exc))}"
        payload = _read(record, record.content_length)
        status = record.http_headers.status_code if record.http_headers is not None else None
        meta["http_status"] = status
        if not isinstance(status, int):
            return row, "bad_http: no HTTP status line"
        if not 200 <= status < 300:
            return row, f"http_status:{status}"
        mime, charset = (record.http_content_type or "").lower(), record.http_charset
        payload, problem = _decoded(record.http_headers, payload, settings.max_line_bytes)
        if problem:
            return row, problem
    else:
        payload = _read(record, record.content_length)
        mime, charset = _content_type(headers.get("Content-Type") or "")
    try:  # the block is read whole: whatever goes wrong from here on is this record's problem only
        return row, _text_into(row, payload, mime, charset)
    except Exception as exc:  # noqa: BLE001
        return row, f"bad_content: {type(exc).__name__}: {clip(str(exc))}"


def _text_into(row: dict[str, Any], payload: bytes, mime: str, charset: str | None) -> str | None:
    """Put the payload's text, its language and how it was read into ``row``; the error, if any."""
    meta = row["metadata"]
    if not mime:
        from resiliparse.parse.encoding import detect_mime

        mime = (detect_mime(payload[:4096]) or "").lower()
    meta["content_type"] = mime or None
    html = mime in html_text.HTML_TYPES
    if not html and mime not in html_text.PLAIN_TYPES:
        return f"not_text:{clip(mime or 'unknown', 80)}"
    text, meta["charset"] = html_text.decode_payload(payload, charset, html)
    if html:
        text = html_text.main_text(text)
    text, meta["ftfy_fixed"] = html_text.repair(text)
    if not text.strip():
        return "no_main_text: the page has no main text" if html else "no_main_text: the record holds no text"
    meta["lang"], meta["lang_confidence"] = identify(text)
    row["text"] = text
    return None


def _base_row(record, at: _Seen, name: str, source: str) -> dict[str, Any]:
    headers = record.headers
    record_id = clean_text((headers.get("WARC-Record-ID") or "").strip().strip("<>").strip())
    if not record_id:
        key = f"{os.path.basename(name)}\0{at.offset}\0{at.pos}".encode("utf-8", "backslashreplace")
        record_id = "warc-" + hashlib.sha256(key).hexdigest()[:32]
    meta: dict[str, Any] = {"warc_record_id": headers.get("WARC-Record-ID"), "warc_type": str(record.record_type),
                            "warc_offset": at.offset}
    if at.pos != at.offset:
        meta["warc_stream_offset"] = at.pos
    if headers.get("WARC-Truncated"):
        meta["warc_truncated"] = headers.get("WARC-Truncated")
    return {"id": record_id, "url": headers.get("WARC-Target-URI"), "fetched_at": headers.get("WARC-Date"),
            "source": source, "text": None, "metadata": meta}


def _content_type(value: str) -> tuple[str, str | None]:
    match = _PARAM_CHARSET.search(value)
    return value.split(";", 1)[0].strip().lower(), match.group(1) if match else None


def _read(record, expected: int) -> bytes:
    """The rest of the record's block (at most ``expected`` bytes, already checked against the caps)."""
    data = record.reader.read(expected) if expected > 0 else b""
    if len(data) < expected:
        raise BrokenRecord(f"block cut short: {len(data)} of {expected} bytes")
    return data


def _skip(record, expected: int) -> None:
    """Read past the rest of the record's block without holding it, checking that it is whole."""
    done = 0
    while done < expected:
        step = record.reader.consume(min(CHUNK, expected - done))
        if not step:
            break
        done += step
    if done < expected:
        raise BrokenRecord(f"block cut short: {done} of {expected} bytes")


def _decoded(http, payload: bytes, limit: int) -> tuple[bytes, str | None]:
    """The HTTP payload with its transfer and content codings undone (at most ``limit`` bytes)."""
    from fastwarc.stream_io import BrotliReader, ChunkedReader, GzipReader

    steps = []
    if "chunked" in (http.get("Transfer-Encoding") or "").lower():
        steps.append(("chunked", lambda s: ChunkedReader(s)))
    for coding in reversed([c.strip().lower() for c in (http.get("Content-Encoding") or "").split(",") if c.strip()]):
        if coding in ("gzip", "x-gzip"):
            steps.append((coding, lambda s: GzipReader(s)))
        elif coding == "deflate":
            steps.append((coding, lambda s: GzipReader(s, zlib=True)))
        elif coding == "br":
            steps.append((coding, lambda s: BrotliReader(s)))
        elif coding != "identity":
            return payload, f"bad_encoding: content coding {clip(coding, 40)!r} is not supported"
    for coding, reader in steps:
        try:
            payload = reader(io.BytesIO(payload)).read(limit + 1)
        except Exception as exc:  # noqa: BLE001 - a broken coding is this record's problem only
            return payload, f"bad_encoding: {coding} payload does not decode ({type(exc).__name__}: {clip(str(exc))})"
        if len(payload) > limit:
            return payload, f"oversized_record: decoded {coding} payload > ingest.max_line_bytes ({limit})"
    return payload, None
