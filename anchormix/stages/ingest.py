"""Ingest one inbox drop into DuckDB: good rows to ``raw_records``, bad rows to
``quarantine`` with file, line and reason. Files are keyed by content hash, so a
file ingested once (under any name) adds nothing the second time."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from anchormix.fileio import file_sha256
from anchormix.readers import IngestSettings, Quarantined, is_inbox_file, load_file

DROP_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class IngestReport:
    """What one ingest of a drop did."""

    drop: str
    files_new: list[str] = field(default_factory=list)
    files_skipped: list[str] = field(default_factory=list)
    loaded: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def list_drops(inbox: Path) -> list[str]:
    """Drop directories (``YYYY-MM-DD``) present in the inbox, sorted."""
    if not inbox.is_dir():
        return []
    return sorted(p.name for p in inbox.iterdir() if p.is_dir() and DROP_PATTERN.match(p.name))


def drop_files(inbox: Path, drop: str) -> list[Path]:
    """Inbox files of one drop, sorted by name for a stable ingest order."""
    folder = inbox / drop
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_inbox_file(p))


def _reason_code(reason: str) -> str:
    return reason.split(":", 1)[0]


def ingest_drop(con: duckdb.DuckDBPyConnection, inbox: Path, drop: str, settings: IngestSettings) -> IngestReport:
    """Load every not-yet-ingested file of ``inbox/drop``; returns what happened."""
    report = IngestReport(drop=drop)
    known_ids = {row[0] for row in con.execute("SELECT id FROM raw_records").fetchall()}
    for path in drop_files(inbox, drop):
        sha = file_sha256(path)
        seen = con.execute("SELECT path FROM ingested_files WHERE sha256 = ?", [sha]).fetchone()
        if seen:
            report.files_skipped.append(f"{path} (same content as {seen[0]})")
            continue
        good, bad = load_file(path, settings)
        rows = []
        for line, record in good:
            if record.id in known_ids:
                bad.append(
                    Quarantined(str(path), line, f"duplicate_id: id {record.id!r} was already ingested", record.id, "")
                )
                continue
            known_ids.add(record.id)
            media = record.media_path
            if media and not Path(media).is_absolute():
                media = str((path.parent / media).resolve())
            rows.append(
                (record.id, drop, str(path), line, record.url, record.fetched_at, record.text,
                 record.source, record.metadata, record.manifest, media)
            )
        con.execute("BEGIN TRANSACTION")
        try:
            if rows:
                con.executemany(
                    "INSERT INTO raw_records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, nextval('record_seq'))", rows
                )
            if bad:
                con.executemany(
                    "INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?)",
                    [(drop, q.file, q.line, q.record_id, q.reason, q.excerpt) for q in bad],
                )
            con.execute(
                "INSERT INTO ingested_files (path, sha256, drop, n_rows, n_loaded, n_quarantined) VALUES (?, ?, ?, ?, ?, ?)",
                [str(path), sha, drop, len(rows) + len(bad), len(rows), len(bad)],
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        report.files_new.append(str(path))
        report.loaded += len(rows)
        report.quarantined += len(bad)
        for q in bad:
            code = _reason_code(q.reason)
            report.reasons[code] = report.reasons.get(code, 0) + 1
    return report
