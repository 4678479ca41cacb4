"""Ingest one inbox drop into DuckDB: good rows to ``raw_records``, bad rows to
``quarantine`` with file, line and reason. Files are keyed by content hash, so a
file ingested once (under any name) adds nothing the second time.

A file that changed under the same name is a correction, and a file removed
from the drop retracts its rows (:mod:`anchormix.stages.retract`).

Every entry of a drop folder is accounted for in ``ingested_files``: rows seen
(= loaded + quarantined), and what could not be read (``n_unread_rows``,
``n_unread_bytes``). An entry that must not be read at all (a FIFO, device or
socket, a directory named like an inbox file, a symlink leading out of the
inbox, a name that is not UTF-8) is one quarantine row, and nothing of it is
opened.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from anchormix.provenance.media import admit_media_path
from anchormix.stages.retract import live_versions, retract_file, retract_removed
from anchormix.store_writes import insert_rows
from anchormix.readers import (
    FileLoad, IngestSettings, Quarantined, clean_text, file_kind, is_inbox_file, open_regular, read_file,
)

DROP_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class IngestReport:
    """What one ingest of a drop did."""

    drop: str
    files_new: list[str] = field(default_factory=list)
    files_skipped: list[str] = field(default_factory=list)
    files_unread: list[str] = field(default_factory=list)
    loaded: int = 0
    quarantined: int = 0
    unread_rows: int = 0
    unread_bytes: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    retracted: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DropEntry:
    """One entry of a drop folder: read it (``problem`` None) or quarantine it unread."""

    path: Path
    display: str
    problem: str | None = None
    real: Path | None = None


def list_drops(inbox: Path) -> list[str]:
    """Drop directories (``YYYY-MM-DD``) present in the inbox, sorted."""
    if not inbox.is_dir():
        return []
    return sorted(p.name for p in inbox.iterdir() if p.is_dir() and DROP_PATTERN.match(p.name))


def display_path(path: Path) -> str:
    """``path`` as text that can be stored: bytes that are not UTF-8 become ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def scan_drop(inbox: Path, drop: str) -> list[DropEntry]:
    """Every inbox file of ``inbox/drop`` and every entry that must be quarantined unread.

    Subfolders are walked (symlinked ones are not followed); other regular
    files are not inbox files and are left alone.
    """
    folder = inbox / drop
    if not folder.is_dir():
        return []
    root = os.path.realpath(inbox)
    entries: list[DropEntry] = []
    pending = [folder]
    while pending:
        directory = pending.pop()
        try:
            listing = list(os.scandir(directory))
        except OSError as exc:  # a subfolder we may not list must not take the drop down
            entries.append(DropEntry(directory, display_path(directory), f"unreadable_file: {exc.strerror or exc}"))
            continue
        for item in listing:
            path = Path(item.path)
            if item.is_dir(follow_symlinks=False) and not is_inbox_file(path):
                pending.append(path)
            elif is_inbox_file(path) or not (item.is_file(follow_symlinks=False) or item.is_symlink()):
                real = Path(os.path.realpath(path))
                entries.append(DropEntry(path, display_path(path), _problem(path, real, root), real))
    return sorted(entries, key=lambda e: os.fsencode(e.path))


def _problem(path: Path, real: Path, inbox_root: str) -> str | None:
    if display_path(path) != str(path):
        return "bad_file_name: the file name is not valid UTF-8"
    if os.path.commonpath([real, inbox_root]) != inbox_root:
        return "symlink_outside_inbox: the path resolves outside the inbox; not read"
    try:
        mode = os.stat(real).st_mode  # stat never opens, so a FIFO cannot block here
    except OSError as exc:
        return f"unreadable_file: {exc.strerror or exc}"
    if not stat.S_ISREG(mode):
        return f"not_a_regular_file: {file_kind(mode)}; not read"
    return None


def drop_files(inbox: Path, drop: str) -> list[Path]:
    """Inbox files of one drop that will be read, sorted by name for a stable ingest order."""
    return [e.path for e in scan_drop(inbox, drop) if e.problem is None]


def _reason_code(reason: str) -> str:
    return reason.split(":", 1)[0]


def ingest_drop(con: duckdb.DuckDBPyConnection, inbox: Path, drop: str, settings: IngestSettings) -> IngestReport:
    """Load every not-yet-ingested file of ``inbox/drop``; returns what happened."""
    report = IngestReport(drop=drop)
    entries = scan_drop(inbox, drop)
    # A file that left the inbox takes its rows back (terminal state `retracted`).
    for display, n in retract_removed(con, drop, {e.display for e in entries if e.problem is None}).items():
        report.retracted[display] = n
    for entry in entries:
        problem, sha, size = entry.problem, None, None
        if problem is None:
            try:
                # The resolved path, checked to lie inside the inbox, not the name a link could re-point.
                with open_regular(entry.real or entry.path) as handle:
                    size = os.fstat(handle.fileno()).st_size
                    sha = hashlib.file_digest(handle, "sha256").hexdigest()
                    seen = con.execute("SELECT path FROM ingested_files WHERE sha256 = ?", [sha]).fetchone()
                    if seen:
                        report.files_skipped.append(f"{entry.display} (same content as {seen[0]})")
                        continue
                    handle.seek(0)
                    load = read_file(handle, entry.display, settings, name=entry.path.name)
                    # A changed file under a known name is a correction: the old version's rows are
                    # retracted first, so the new version may reuse their ids.
                    for old in live_versions(con, drop, entry.display):
                        gone = retract_file(con, drop, old, entry.display, _new_key(con, entry.display, sha),
                                            "corrected: the file changed")
                        report.retracted[entry.display] = report.retracted.get(entry.display, 0) + len(gone)
            except OSError as exc:  # vanished, or swapped for a FIFO, since the scan
                problem = str(exc) if exc.strerror is None else f"unreadable_file: {exc.strerror}"
        if problem is not None:
            if _already_reported(con, entry.display, problem):
                report.files_skipped.append(f"{entry.display} (already quarantined unread)")
                continue
            load = FileLoad(entry.display, bad=[Quarantined(entry.display, 0, clean_text(problem), None, "")])
            report.files_unread.append(entry.display)
        else:
            report.files_new.append(entry.display)
        rows = _admit(load, entry.path, inbox / drop, drop, _stored_ids(con, [r.id for _, r in load.good]))
        _store(con, drop, entry.display, sha, size, load, rows, problem)
        report.loaded += len(rows)
        report.quarantined += len(load.bad)
        report.unread_rows += load.unread_rows
        report.unread_bytes += load.unread_bytes
        for q in load.bad:
            code = _reason_code(q.reason)
            report.reasons[code] = report.reasons.get(code, 0) + 1
    return report


def _stored_ids(con: duckdb.DuckDBPyConnection, ids: list[str]) -> set[str]:
    """Which of ``ids`` the store already holds (earlier files and nights are committed before this one)."""
    if not ids:
        return set()
    return {row[0] for row in con.execute("SELECT id FROM raw_records WHERE id IN (SELECT unnest(?))",
                                          [ids]).fetchall()}


def _admit(load: FileLoad, path: Path, drop_dir: Path, drop: str, known_ids: set[str]) -> list[tuple]:
    """raw_records rows of the file's good records; an id already stored or repeated joins ``load.bad``."""
    rows = []
    for line, record in load.good:
        if record.id in known_ids:
            load.bad.append(Quarantined(load.file, line, f"duplicate_id: id {record.id!r} was already ingested",
                                        record.id, ""))
            continue
        known_ids.add(record.id)
        media = admit_media_path(record.media_path, path.parent, drop_dir) if record.media_path else None
        rows.append((record.id, drop, load.file, line, record.url, record.fetched_at, record.text,
                     record.source, record.metadata, record.manifest, media))
    return rows


def _already_reported(con: duckdb.DuckDBPyConnection, display: str, problem: str) -> bool:
    return con.execute("SELECT count(*) FROM ingested_files WHERE sha256 IS NULL AND path IN (?, ?)",
                       [display, _tagged(display, _reason_code(problem))]).fetchone()[0] > 0


def _tagged(display: str, tag: str) -> str:
    return f"{display} [{tag}]"


def _new_key(con: duckdb.DuckDBPyConnection, display: str, tag: str) -> str:
    # ingested_files is keyed by path: a file changed in place, or replaced by
    # a FIFO, is a second entry under a tagged key instead of a key clash.
    taken = con.execute("SELECT count(*) FROM ingested_files WHERE path = ?", [display]).fetchone()[0]
    return _tagged(display, tag[:16]) if taken else display


RAW_COLUMNS = ("id", "drop", "file", "line", "url", "fetched_at", "text", "source", "metadata", "manifest",
               "media_path")


def _store(con: duckdb.DuckDBPyConnection, drop: str, display: str, sha: str | None, size: int | None,
           load: FileLoad, rows: list[tuple], problem: str | None) -> None:
    key = _new_key(con, display, sha if sha else _reason_code(problem or ""))
    unread_bytes = load.unread_bytes if problem is None else None
    con.execute("BEGIN TRANSACTION")
    try:
        if rows:
            # Sequence values in file order: ingest order is the tie-break of every later stage.
            seqs = sorted(r[0] for r in con.execute("SELECT nextval('record_seq') FROM range(?)",
                                                    [len(rows)]).fetchall())
            columns = dict(zip(RAW_COLUMNS, zip(*rows)))
            insert_rows(con, "raw_records", {**{k: list(v) for k, v in columns.items()}, "seq": seqs})
        if load.bad:
            insert_rows(con, "quarantine", {
                "drop": [drop] * len(load.bad), "file": [q.file for q in load.bad],
                "line": [q.line for q in load.bad], "record_id": [q.record_id for q in load.bad],
                "reason": [q.reason for q in load.bad], "excerpt": [q.excerpt for q in load.bad]})
        con.execute(
            "INSERT INTO ingested_files (path, sha256, drop, n_rows, n_loaded, n_quarantined, n_bytes, "
            "n_unread_rows, n_unread_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [key, sha, drop, len(rows) + len(load.bad), len(rows), len(load.bad), size,
             load.unread_rows if problem is None else None, unread_bytes],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
