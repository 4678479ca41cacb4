"""Gate verdicts, stored per candidate fingerprint.

Dagster only blocks downstream steps within one run, so the verdicts also live in
the store: the publisher reads them and refuses a candidate whose gates did not
all pass, whichever run (or UI selection) asks it to publish.
"""

from __future__ import annotations

import json

import duckdb

REQUIRED_GATES = ("gx_schema", "gx_provenance", "gx_licenses", "gx_conservation", "diversity_gates",
                  "detector_health")


def record_gate(con: duckdb.DuckDBPyConnection, fingerprint: str, gate: str, passed: bool, details: dict) -> None:
    """Append one verdict; the newest verdict per (fingerprint, gate) is the one that counts."""
    con.execute(
        "INSERT INTO gate_results (fingerprint, gate, passed, details) VALUES (?, ?, ?, ?)",
        [fingerprint, gate, bool(passed), json.dumps(details, default=str)],
    )


def gate_status(con: duckdb.DuckDBPyConnection, fingerprint: str) -> dict[str, dict]:
    """Newest verdict of each gate for a candidate: ``{gate: {passed, details}}``."""
    rows = con.execute(
        """
        SELECT gate, passed, details FROM (
            SELECT *, row_number() OVER (PARTITION BY gate ORDER BY evaluated_at DESC) AS k
            FROM gate_results WHERE fingerprint = ?) WHERE k = 1
        """,
        [fingerprint],
    ).fetchall()
    return {gate: {"passed": bool(passed), "details": json.loads(details)} for gate, passed, details in rows}


def refusal_reason(status: dict[str, dict], required: tuple[str, ...] = REQUIRED_GATES) -> str | None:
    """Why a candidate with these verdicts may not be published, or None if it may."""
    missing = [g for g in required if g not in status]
    failed = [g for g in required if g in status and not status[g]["passed"]]
    parts = []
    if failed:
        parts.append("failed gates: " + ", ".join(failed))
    if missing:
        parts.append("unchecked gates: " + ", ".join(missing))
    return "; ".join(parts) or None
