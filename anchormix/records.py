"""The declared record schema of an inbox row and its validation.

A row is valid when every required field is present with the right type and the
text is within the configured size. Anything else becomes a quarantine reason;
the reason strings are stable so tests and dashboards can group by them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

REQUIRED_FIELDS: dict[str, type] = {
    "id": str,
    "url": str,
    "fetched_at": str,
    "text": str,
    "source": str,
}
OPTIONAL_FIELDS: dict[str, type] = {
    "metadata": dict,
    "manifest": (dict, str),  # type: ignore[dict-item]
    "media_path": str,
}
RECORD_COLUMNS = ("id", "url", "fetched_at", "text", "source", "metadata", "manifest", "media_path")

TERMINAL_STATES = ("published", "selected", "held", "filtered", "duplicate", "quarantined")


@dataclass(frozen=True)
class Record:
    """A validated inbox row. ``metadata``/``manifest`` are kept as JSON strings."""

    id: str
    url: str
    fetched_at: str
    text: str
    source: str
    metadata: str | None = None
    manifest: str | None = None
    media_path: str | None = None


class InvalidRow(ValueError):
    """A row that fails the schema; ``reason`` is a short stable code plus detail."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def validate_row(row: dict[str, Any], max_text_bytes: int) -> Record:
    """Return a :class:`Record` for ``row`` or raise :class:`InvalidRow`."""
    if not isinstance(row, dict):
        raise InvalidRow(f"not_an_object: row is {type(row).__name__}, expected an object")
    for name, kind in REQUIRED_FIELDS.items():
        if name not in row or _is_null(row[name]):
            raise InvalidRow(f"missing_field: {name}")
        if not isinstance(row[name], kind):
            raise InvalidRow(f"wrong_type: {name} is {type(row[name]).__name__}, expected {kind.__name__}")
        if name != "text" and not row[name].strip():
            raise InvalidRow(f"empty_field: {name}")
    if not row["text"].strip():
        raise InvalidRow("empty_field: text")
    size = len(row["text"].encode("utf-8", "surrogatepass"))
    if size > max_text_bytes:
        raise InvalidRow(f"oversized_text: {size} bytes > limit {max_text_bytes}")
    try:
        row["text"].encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRow("invalid_utf8: text holds unpaired surrogates") from None
    try:
        datetime.fromisoformat(row["fetched_at"].replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRow(f"bad_timestamp: fetched_at {row['fetched_at'][:40]!r} is not ISO 8601") from None
    extras: dict[str, str | None] = {}
    for name, kind in OPTIONAL_FIELDS.items():
        value = row.get(name)
        if _is_null(value):
            extras[name] = None
            continue
        if not isinstance(value, kind):
            raise InvalidRow(f"wrong_type: {name} is {type(value).__name__}")
        extras[name] = json.dumps(value, sort_keys=True) if isinstance(value, dict) else value
    return Record(
        id=row["id"].strip(),
        url=row["url"],
        fetched_at=row["fetched_at"],
        text=row["text"],
        source=row["source"].strip(),
        **extras,
    )
