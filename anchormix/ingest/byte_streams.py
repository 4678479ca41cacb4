"""The bytes of an inbox file, plain or gzip, read chunk by chunk.

Both streams know how many bytes of the file on disk they have not consumed
yet (:meth:`remaining`), so that when reading stops early the quarantine row
can say exactly how much of the file was never read.
"""

from __future__ import annotations

import zlib
from typing import BinaryIO

CHUNK = 1 << 18


class PlainStream:
    """An uncompressed file: the bytes read are the bytes on disk."""

    compressed = False

    def __init__(self, raw: BinaryIO, size: int):
        self._raw, self._size, self._pos = raw, size, 0

    def read(self, n: int) -> bytes:
        chunk = self._raw.read(n)
        self._pos += len(chunk)
        return chunk

    def remaining(self) -> int:
        return max(0, self._size - self._pos)


class GzipStream:
    """A gzip file decompressed chunk by chunk; zlib checks each member's CRC and length.

    Written over ``zlib`` rather than ``gzip.GzipFile`` so that a fault leaves
    an exact count of the compressed bytes not yet consumed.
    """

    compressed = True

    def __init__(self, raw: BinaryIO, size: int):
        self._raw, self._size, self._pos = raw, size, 0
        self._zlib = zlib.decompressobj(31)
        self._input = b""
        self._in_member = False

    def remaining(self) -> int:
        return max(0, self._size - self._pos) + len(self._input)

    def _member_started(self) -> None:
        """Hook: a new gzip member begins at ``self._pos - len(self._input)`` on disk."""

    def _produced(self, n: int) -> None:
        """Hook: ``n`` decompressed bytes are about to be returned."""

    def read(self, n: int) -> bytes:
        while True:
            if self._input:
                if not self._in_member:
                    self._input = self._input.lstrip(b"\0")  # padding between members, as gzip allows
                    if not self._input:
                        continue
                    self._zlib, self._in_member = zlib.decompressobj(31), True
                    self._member_started()
                out = self._zlib.decompress(self._input, n)
                if self._zlib.eof:
                    self._input, self._in_member = self._zlib.unused_data, False
                else:
                    self._input = self._zlib.unconsumed_tail
                if out:
                    self._produced(len(out))
                    return out
                continue
            chunk = self._raw.read(CHUNK)
            if not chunk:
                if self._in_member:
                    raise EOFError("compressed file ended before the end-of-stream marker was reached")
                return b""
            self._pos += len(chunk)
            self._input = chunk
