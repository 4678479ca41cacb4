"""A plain-text run summary of one drop: states, shares, gates, publication."""

from __future__ import annotations

import duckdb

from anchormix.gates import REQUIRED_GATES, gate_status
from anchormix.stages.mix import latest_candidate
from anchormix.stages.states import conservation_frame


def drop_summary(con: duckdb.DuckDBPyConnection, drop: str) -> dict:
    """Terminal-state counts, provenance shares, gate verdicts and publication of ``drop``'s candidate."""
    candidate = latest_candidate(con, drop)
    if candidate is None:
        return {"drop": drop, "candidate": None}
    fp = candidate["fingerprint"]
    conservation = conservation_frame(con, drop, fp).iloc[0].to_dict()
    published = con.execute("SELECT generation, path FROM publications WHERE fingerprint = ?", [fp]).fetchone()
    latest = con.execute("SELECT generation, path FROM publications ORDER BY generation DESC LIMIT 1").fetchone()
    return {
        "drop": drop,
        "candidate": fp,
        "conservation": {k: int(v) for k, v in conservation.items()},
        "shares": candidate["report"].get("shares", {}),
        "gates": gate_status(con, fp),
        "published": {"generation": published[0], "path": published[1]} if published else None,
        "latest_publication": {"generation": latest[0], "path": latest[1]} if latest else None,
    }


def failure_reasons(details: dict) -> list[str]:
    """Readable lines from a stored gate verdict's details."""
    out = []
    for row in details.get("failures", []):
        out.append(f"{row['expectation']}({row.get('column') or ''}): observed {row['observed']}, "
                   f"expected {row['threshold']}")
    for row in details.get("failed", []):
        out.append(row.get("detail") or f"{row.get('metric')}: {row.get('observed')} vs {row.get('threshold')}")
    if "auroc" in details and not out:
        out.append(f"held-out AUROC {details['auroc']} below floor {details['floor']}")
    return out


def format_summary(summary: dict) -> str:
    """Human-readable lines for :func:`drop_summary`."""
    drop = summary["drop"]
    if summary["candidate"] is None:
        return f"drop {drop}: no candidate mix was built"
    c = summary["conservation"]
    states = ", ".join(f"{k} {c[k]}" for k in ("published", "selected", "held", "filtered", "duplicate",
                                                  "quarantined") if c.get(k))
    ok = "holds" if c["records_in"] == c["terminal_total"] else "BROKEN"
    lines = [
        f"drop {drop} (candidate {summary['candidate']})",
        f"  records in {c['records_in']} = {states}  [conservation {ok}]",
        "  shares: " + ", ".join(f"{k} {v:.1%}" for k, v in summary["shares"].items()),
    ]
    for gate in REQUIRED_GATES:
        status = summary["gates"].get(gate)
        if status is None:
            lines.append(f"  gate {gate}: not run")
        else:
            word = "passed" if status["passed"] else "FAILED"
            lines.append(f"  gate {gate}: {word}")
            if not status["passed"]:
                lines.extend(f"      {reason}" for reason in failure_reasons(status["details"]))
    if summary["published"]:
        lines.append(f"  published: generation {summary['published']['generation']} at {summary['published']['path']}")
    else:
        latest = summary["latest_publication"]
        kept = f"; generation {latest['generation']} at {latest['path']} stays current" if latest else ""
        lines.append(f"  NOT published{kept}")
    return "\n".join(lines)
