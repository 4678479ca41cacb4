"""``capture_date`` and ``registry`` evidence: the two signals read straight off a record.

``capture_date`` verdicts: ``missing`` (no fetched_at), ``unparseable``,
``future`` (after now: a clock or forgery problem), ``before_cutoff`` /
``after_cutoff`` (relative to ``presume_human_before``), ``dated`` (a
plausible date and no cutoff configured). Trusted dates are ``before_cutoff``
and ``dated``.

``registry`` verdicts: ``registered`` (value ``kind/license/trust_tier``, ref
the source name) or ``unregistered``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from anchormix.evidence import Evidence
from anchormix.provenance.classify import registry_value
from anchormix.provenance.registry import Registry

# Crawlers' clocks drift; a day of slack keeps honest records from reading as "future".
_CLOCK_SLACK = timedelta(days=1)


def capture_date_evidence(record_id: str, fetched_at: object, cutoff: date | None,
                          now: datetime | None = None) -> Evidence:
    """Judge a record's capture time against the optional ``presume_human_before`` cutoff."""
    ref = f"presume_human_before={cutoff.isoformat()}" if cutoff else "no cutoff"
    if (fetched_at is None or (isinstance(fetched_at, float) and fetched_at != fetched_at)
            or type(fetched_at).__name__ in ("NAType", "NaTType") or (isinstance(fetched_at, str) and not fetched_at.strip())):
        return Evidence(record_id, "capture_date", "", "missing", ref)
    try:
        when = fetched_at if isinstance(fetched_at, datetime) else datetime.fromisoformat(str(fetched_at))
    except ValueError:
        return Evidence(record_id, "capture_date", str(fetched_at)[:64], "unparseable", ref)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    value = when.isoformat()
    if when > (now or datetime.now(timezone.utc)) + _CLOCK_SLACK:
        return Evidence(record_id, "capture_date", value, "future", ref)
    if cutoff is None:
        return Evidence(record_id, "capture_date", value, "dated", ref)
    verdict = "before_cutoff" if when.date() < cutoff else "after_cutoff"
    return Evidence(record_id, "capture_date", value, verdict, ref)


def registry_evidence(record_id: str, source: object, registry: Registry) -> Evidence:
    """Whether the record's source is registered, with its kind, license and trust tier."""
    entry = registry.get(source)
    if entry is None:
        return Evidence(record_id, "registry", "", "unregistered", str(source))
    return Evidence(record_id, "registry", registry_value(entry.kind, entry.license, entry.trust_tier),
                    "registered", entry.name)
