"""A plain-text run summary of one drop: states, shares, gates, publication."""

from __future__ import annotations

import duckdb

from anchormix.gates import REQUIRED_GATES, gate_status
from anchormix.stages.mix import latest_candidate
from anchormix.stages.publish import probes_path
from anchormix.stages.states import conservation_frame
from anchormix.value import value_lines


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
        "diversity": candidate["report"].get("diversity_verdict") or {},
        "new_records": candidate["report"].get("new_records_verdict"),
        "intake": candidate["report"].get("intake") or {},
        "gates": gate_status(con, fp),
        "published": {"generation": published[0], "path": published[1]} if published else None,
        "latest_publication": {"generation": latest[0], "path": latest[1]} if latest else None,
        "value": candidate["report"].get("value"),
        "probes": {**(candidate["report"].get("probes") or {}),
                   "path": probes_path(published[1] if published else latest[1]) if published or latest else None},
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


def diversity_lines(verdict: dict, new_records: dict | None = None) -> list[str]:
    """The calibrated diversity tests in two lines: p-values, then the rare clusters by name."""
    rows = verdict.get("rows", [])
    if not rows:
        return []
    tests = [r for r in rows if r.get("p_value") is not None and not r["gate"].startswith("tail ")]
    tail = [r for r in rows if r["gate"].startswith("tail ")]
    lines = [f"  diversity (n={verdict.get('n')}, vs healthy samples of its size): "
             + ", ".join(f"{r['gate']} p={r['p_value']:.2g}{'' if r['passed'] else ' BLOCKS'}" for r in tests)]
    if tail:
        lines.append("  rare clusters: " + "; ".join(
            f"{r['gate'][5:]} {r['observed']:.0f}/{r['null_median']:.1f} expected p={r['p_value']:.2g}"
            f"{'' if r['passed'] else ' UNDER-COVERED'}" for r in tail))
    if new_records is not None:
        failed = [r["gate"] for r in new_records.get("rows", []) if not r["passed"]]
        lines.append(f"  new records alone (n={new_records.get('n')}): "
                     + ("WARN, not blocking: " + ", ".join(failed) if failed else "look healthy"))
    return lines


def format_summary(summary: dict) -> str:
    """Human-readable lines for :func:`drop_summary`."""
    drop = summary["drop"]
    if summary["candidate"] is None:
        return f"drop {drop}: no candidate mix was built"
    c = summary["conservation"]
    states = ", ".join(f"{k} {c[k]}" for k in ("published", "selected", "held", "filtered", "duplicate", "retracted",
                                                  "quarantined") if c.get(k))
    ok = "holds" if c["records_in"] == c["terminal_total"] else "BROKEN"
    lines = [
        f"drop {drop} (candidate {summary['candidate']})",
        f"  records in {c['records_in']} = {states}  [conservation {ok}]",
        "  shares: " + ", ".join(f"{k} {v:.1%}" for k, v in summary["shares"].items()),
    ]
    intake = summary.get("intake") or {}
    if intake:
        lines.append(f"  intake: tonight {intake.get('tonight_selected', 0)} of {intake.get('tonight_eligible', 0)} "
                     f"eligible records selected; {intake.get('added', 0)} added to the mix, "
                     f"{intake.get('retired', 0)} retired")
        lines.extend(f"      {note}" for note in intake.get("notes", []))
    lines.extend(diversity_lines(summary.get("diversity") or {}, summary.get("new_records")))
    if summary.get("value") is not None:
        lines.extend(value_lines(summary["value"]))
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
    lines.extend(probe_lines(summary))
    return "\n".join(lines)


def probe_lines(summary: dict) -> list[str]:
    """Where the tail probe set of the generation in force is, and what this candidate withheld."""
    probes = summary.get("probes") or {}
    if not probes.get("records") and not probes.get("path"):
        return []
    which = "this generation's" if summary.get("published") else "the current generation's"
    where = f"{which} at {probes['path']}" if probes.get("path") else "none published yet"
    n = probes.get("clusters", 0)
    return [f"  tail probe set: {probes.get('records', 0)} held-out human records of {n} rare "
            f"cluster{'' if n == 1 else 's'} withheld by this candidate; {where}"]
