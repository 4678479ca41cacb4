"""Per-record lineage: from a published record back to its raw file and line.

``explain(record_id)`` gathers, for one record, where it came from, what each
stage did to it, the provenance evidence and the class it earned, and which
candidates and publications contain it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb


@dataclass
class Explanation:
    """Everything the store knows about one record, with a readable summary."""

    record_id: str
    raw: dict[str, Any] | None
    quarantine: list[dict[str, Any]]
    normalized: dict[str, Any] | None
    dedup: dict[str, Any] | None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    provenance: dict[str, Any] | None = None
    quality: dict[str, Any] | None = None
    cluster: int | None = None
    candidates: list[str] = field(default_factory=list)
    publications: list[int] = field(default_factory=list)

    @property
    def provenance_class(self) -> str | None:
        return self.provenance["class"] if self.provenance else None

    def summary(self) -> str:
        """A few lines a person can read: source file, transformations, evidence, class."""
        if self.raw is None and not self.quarantine:
            return f"{self.record_id}: not found in the store"
        lines = [f"record {self.record_id}"]
        if self.raw:
            lines.append(f"  from {self.raw['file']}:{self.raw['line']} (drop {self.raw['drop']}, source {self.raw['source']})")
        for q in self.quarantine:
            lines.append(f"  quarantined at {q['file']}:{q['line']}: {q['reason']}")
        if self.normalized:
            lines.append(f"  normalized: NFC + whitespace, sha256 {self.normalized['content_hash'][:16]}…")
        if self.dedup:
            if self.dedup["status"] == "duplicate":
                lines.append(f"  duplicate ({self.dedup['method']}) of {self.dedup['duplicate_of']}")
            else:
                lines.append("  unique")
        for e in self.evidence:
            lines.append(f"  evidence {e['signal']}: {e['value']} -> {e['verdict']} [{e['ref']}]")
        if self.provenance:
            lines.append(f"  class {self.provenance['class']}: {self.provenance['reason']}")
        if self.quality:
            lines.append(f"  quality {self.quality['score']:.2f} {'pass' if self.quality['passed'] else 'fail: ' + self.quality['reasons']}")
        if self.publications:
            lines.append(f"  published in generation(s) {', '.join(map(str, self.publications))}")
        return "\n".join(lines)


def _one(con: duckdb.DuckDBPyConnection, sql: str, record_id: str) -> dict[str, Any] | None:
    frame = con.execute(sql, [record_id]).df()
    return None if frame.empty else frame.iloc[0].to_dict()


def _all(con: duckdb.DuckDBPyConnection, sql: str, record_id: str) -> list[dict[str, Any]]:
    return con.execute(sql, [record_id]).df().to_dict(orient="records")


def explain(record_id: str, con: duckdb.DuckDBPyConnection | None = None) -> Explanation:
    """Trace ``record_id`` through every stage. Without ``con`` it opens the configured store read-only."""
    if con is None:
        from anchormix.config import load_settings
        from anchormix.store import connect_store

        with connect_store(load_settings().paths.store, read_only=True) as own:
            return explain(record_id, own)
    return Explanation(
        record_id=record_id,
        raw=_one(con, "SELECT id, drop, file, line, url, fetched_at, source, media_path FROM raw_records WHERE id = ?", record_id),
        quarantine=_all(con, "SELECT drop, file, line, reason FROM quarantine WHERE record_id = ?", record_id),
        normalized=_one(con, "SELECT content_hash, n_chars, n_words FROM normalized WHERE id = ?", record_id),
        dedup=_one(con, "SELECT status, duplicate_of, method, similarity FROM dedup WHERE id = ?", record_id),
        evidence=_all(con, "SELECT signal, value, verdict, ref FROM evidence WHERE id = ? ORDER BY signal", record_id),
        provenance=_one(con, "SELECT class, reason FROM provenance WHERE id = ?", record_id),
        quality=_one(con, "SELECT score, passed, reasons FROM quality WHERE id = ?", record_id),
        cluster=(lambda row: None if row is None else int(row["cluster"]))(
            _one(con, "SELECT cluster FROM clusters WHERE id = ?", record_id)),
        candidates=[r["fingerprint"] for r in _all(con, "SELECT fingerprint FROM candidate_records WHERE id = ?", record_id)],
        publications=[int(r["generation"]) for r in _all(con, "SELECT generation FROM published_records WHERE id = ? ORDER BY generation", record_id)],
    )
