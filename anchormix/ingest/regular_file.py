"""Open a path only if it is a regular file.

Inbox entries and media paths are untrusted: a FIFO would block ``open`` for
ever and a device could be read without end, so neither is ever opened.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO


class NotRegularFile(OSError):
    """Raised by :func:`open_regular` for a FIFO, device, socket or directory."""


def file_kind(mode: int) -> str:
    """A short name for the type of a file's ``st_mode``."""
    for test, name in ((stat.S_ISREG, "regular file"), (stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "fifo"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISLNK, "symlink")):
        if test(mode):
            return name
    return "special file"


def open_regular(path: str | Path) -> BinaryIO:
    """Open ``path`` for reading only if it is a regular file; never blocks.

    The type is checked with ``stat`` first, so a FIFO or device is never
    opened; ``O_NONBLOCK`` and a second check on the open descriptor cover a
    file swapped in between. Raises :class:`NotRegularFile` (an ``OSError``).
    """
    mode = os.stat(path).st_mode
    if stat.S_ISREG(mode):
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode):
            return os.fdopen(fd, "rb")
        os.close(fd)
    raise NotRegularFile(f"not_a_regular_file: {file_kind(mode)}")
