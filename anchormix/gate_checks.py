"""The gates themselves, Dagster-free: each judges a stored candidate.

The Dagster asset checks in ``checks/`` are thin wrappers around these, and
:mod:`anchormix.runner` calls them directly, so a gate means the same thing under
any executor or none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from anchormix.gates import record_gate
from anchormix.gx_suites import (
    SuiteOutcome,
    conservation_expectations,
    license_expectations,
    provenance_expectations,
    run_suite,
    schema_expectations,
    with_license_column,
    with_ratio_columns,
)
from anchormix.licenses import license_verdict
from anchormix.stages.mix import candidate_frame
from anchormix.stages.provenance import latest_detector
from anchormix.stages.states import conservation_frame


@dataclass
class GateOutcome:
    """A gate's verdict with what a person needs to act on it."""

    gate: str
    passed: bool
    description: str
    tables: dict[str, pd.DataFrame | str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    gx_result: dict[str, Any] | None = None


def _from_suite(gate: str, outcome: SuiteOutcome, values: dict | None = None) -> GateOutcome:
    failed = outcome.failures
    description = (f"{len(outcome.rows)} expectations passed" if outcome.success
                   else f"{len(failed)} of {len(outcome.rows)} expectations failed: "
                        + "; ".join(f"{r['expectation']}({r['column'] or ''}) observed {r['observed']}, "
                                    f"threshold {r['threshold']}"
                                    + (f" ({r['description']})" if r.get("description") else "") for r in failed))
    return GateOutcome(
        gate, outcome.success, description,
        tables={"failed_expectations": outcome.markdown(only_failures=True) if failed else "_none_",
                "all_expectations": outcome.markdown()},
        values=values or {}, details={"failures": failed}, gx_result=outcome.result_json,
    )


def gx_schema(con: duckdb.DuckDBPyConnection, candidate: dict, max_chars: int) -> GateOutcome:
    """Columns, types, non-null, unique ids, text length, hash shape."""
    frame = candidate_frame(con, candidate["fingerprint"])
    return _from_suite("gx_schema", run_suite("schema", frame, schema_expectations(1, max_chars)))


def gx_provenance(con: duckdb.DuckDBPyConnection, candidate: dict) -> GateOutcome:
    """Allowed classes, human floor, synthetic and unknown caps, evidence behind every record."""
    policy = candidate["policy"]
    frame = with_ratio_columns(candidate_frame(con, candidate["fingerprint"]))
    suite = run_suite("provenance", frame, provenance_expectations(
        policy["human_floor"], policy["synthetic_cap"], policy["unknown_cap"]))
    return _from_suite("gx_provenance", suite, {"shares": candidate["report"].get("shares", {}), "policy": policy})


def gx_licenses(con: duckdb.DuckDBPyConnection, candidate: dict) -> GateOutcome:
    """Every record's license is permitted by ``[mix] allowed_licenses`` / ``denied_licenses``.

    The policy is judged once per (source, license) pair with
    :func:`anchormix.licenses.license_verdict`; the GX expectation then checks
    every record's pair, so a failure names each offending source, its license
    and the rule it breaks. A policy-free candidate passes with its licenses listed.
    """
    policy = candidate["policy"]
    allowed, denied = policy.get("allowed_licenses") or [], policy.get("denied_licenses") or []
    frame = with_license_column(candidate_frame(con, candidate["fingerprint"]))
    pairs = frame.groupby(["source", "license", "source_license"], dropna=False).size().reset_index(name="records")
    verdicts = [license_verdict(str(lic), allowed, denied) for lic in pairs["license"]]
    pairs["permitted"] = [ok for ok, _ in verdicts]
    pairs["why"] = [why for _, why in verdicts]
    blocked = {r.source_license: r.why for r in pairs.itertuples() if not r.permitted}
    suite = run_suite("licenses", frame, license_expectations(
        pairs.loc[pairs["permitted"], "source_license"].tolist(), blocked))
    outcome = _from_suite("gx_licenses", suite, {"allowed_licenses": list(allowed), "denied_licenses": list(denied),
                                                 "blocked_sources": sorted(pairs.loc[~pairs["permitted"], "source"])})
    outcome.tables["licenses"] = pairs[["source", "license", "records", "permitted", "why"]]
    if blocked:
        outcome.description = ("license policy blocks " + "; ".join(f"{k}: {v}" for k, v in blocked.items())
                               + ". Drop the source, correct a license recorded by mistake with `anchormix "
                                 "relicense SOURCE --license ...` (a registry edit licenses only records labelled "
                                 "after it), or change [mix] allowed_licenses / denied_licenses knowingly. "
                               + outcome.description)
    outcome.details["blocked"] = blocked
    return outcome


def gx_conservation(con: duckdb.DuckDBPyConnection, candidate: dict) -> GateOutcome:
    """Records in equals the sum of the terminal states."""
    frame = conservation_frame(con, candidate["drop"], candidate["fingerprint"])
    suite = run_suite("conservation", frame, conservation_expectations())
    return _from_suite("gx_conservation", suite, {"counts": {k: int(v) for k, v in frame.iloc[0].items()}})


def _plot_values(verdict: dict, prefix: str = "") -> dict[str, float]:
    """Flat numeric metadata (value, null median, band, p) per test, which the Dagster UI plots per partition."""
    out: dict[str, float] = {}
    for row in verdict.get("rows", []):
        if row.get("p_value") is None or row["gate"].startswith("tail "):
            continue
        name = prefix + row["gate"]
        for key, suffix in (("observed", ""), ("null_median", "_null_median"), ("band_lo", "_band_lo"),
                            ("band_hi", "_band_hi"), ("p_value", "_p")):
            if row.get(key) is not None and math.isfinite(float(row[key])):
                out[name + suffix] = float(row[key])
    tail = [r["p_value"] for r in verdict.get("rows", []) if r["gate"].startswith("tail ")]
    if tail:
        out[prefix + "tail_min_p"] = float(min(tail))
    return out


def diversity(candidate: dict) -> GateOutcome:
    """The calibrated diversity verdict stored with the candidate (see :mod:`anchormix.diversity_gate`)."""
    verdict = candidate["report"].get("diversity_verdict") or {}
    rows = verdict.get("rows", [])
    if not rows:
        return GateOutcome("diversity_gates", False, "the candidate is too small to measure diversity (< 2 records)")
    failed = [r for r in rows if not r["passed"]]
    columns = ("gate", "family", "observed", "null_median", "band_lo", "band_hi", "p_value", "threshold", "passed",
               "detail")
    table = pd.DataFrame([{k: r.get(k) for k in columns} for r in rows])
    description = ("no test rejects: the candidate looks like healthy human samples of its size"
                   if not failed else "; ".join(f"{r['gate']}: {r['detail']}" for r in failed))
    new = candidate["report"].get("new_records_verdict")
    values: dict[str, Any] = {**_plot_values(verdict), "n_records": int(verdict.get("n", 0))}
    tables: dict[str, Any] = {"gates": table}
    if verdict.get("notes"):
        tables["notes"] = "\n".join(f"- {n}" for n in verdict["notes"])
    if verdict.get("under_covered"):
        values["under_covered_clusters"] = verdict["under_covered"]
    if new:
        values.update(_plot_values(new, "new_records_"))
        values["new_records_n"] = int(new.get("n", 0))
        values["new_records_warning"] = (
            "WARN (not blocking): the records new in this candidate, judged alone, fail: "
            + "; ".join(r["gate"] for r in new["rows"] if not r["passed"])) if not new.get("passed") else "ok"
    intake = candidate["report"].get("intake")
    if intake:
        values.update({"records_added": int(intake["added"]), "records_retired": int(intake["retired"])})
    return GateOutcome("diversity_gates", not failed, description, tables=tables, values=values,
                       details={"failed": failed, "new_records": new and {"passed": new.get("passed"),
                                "failed": [r for r in new["rows"] if not r["passed"]]}})


def detector_health(con: duckdb.DuckDBPyConnection, candidate: dict) -> GateOutcome:
    """Does the detector that labelled this drop generalise? (:func:`anchormix.provenance.detector.health`)

    Blocks when the leave-one-source-out AUROC of any held-out source (or, with
    no source that can be held out, the cross-validated AUROC) is below the
    floor, or when a human flag rate (cross-validated with nested thresholds,
    and each held-out human source's) exceeds ``max_human_flag_rate`` by more
    than chance allows (one-sided binomial test at ``flag_rate_alpha``, 1 %).
    Metadata: every figure as a number (plotted per partition), per source.
    """
    from anchormix.provenance.detector import health

    floor = float(candidate["thresholds"]["detector_auroc_floor"])
    det = latest_detector(con, candidate["drop"])
    if det is None:
        return GateOutcome("detector_health", False, "provenance has not run for this partition")
    report = det.get("report") or {"trained": bool(det.get("trained")), "reason": det.get("reason"),
                                   "cv_auroc": det.get("heldout_auroc")}
    relying = con.execute(
        "SELECT count(*) FROM provenance p JOIN evidence e USING (id) WHERE p.drop <= ? AND e.signal = 'detector' "
        "AND p.class IN ('synthetic_suspected', 'human_presumed') AND e.verdict IN ('suspected', 'below_threshold')",
        [candidate["drop"]]).fetchone()[0]
    values: dict[str, Any] = {"auroc_floor": floor, "detector_version": str(det.get("version")),
                              "records_relying": int(relying)}
    tables: dict[str, Any] = {}
    if not det.get("trained"):
        passed = relying == 0
        description = (f"no detector trained ({det.get('reason')}); no record relies on one" if passed
                       else f"no detector trained but {relying} records carry detector-based labels")
        values["heldout_auroc"] = -1.0
        return GateOutcome("detector_health", passed, description, values=values,
                           details={"auroc": None, "floor": floor})
    verdict = health(report, floor)
    passed = verdict["passed"]

    def num(x):
        return float(x) if x is not None and x == x else -1.0

    values.update({
        "generalisation_auroc": num(verdict["auroc"]), "heldout_auroc": num(verdict["auroc"]),
        "cv_auroc": num(report.get("cv_auroc")), "loso_min_auroc": num(report.get("loso_min_auroc")),
        "human_flag_rate": num(report.get("human_flag_rate")),
        "max_human_flag_rate": num(report.get("max_human_flag_rate")),
        "human_flag_rate_limit": num(verdict.get("flag_rate_limit")),
        "threshold": num(report.get("threshold")), "synthetic_recall": num(report.get("recall")),
        "balanced_precision": num(report.get("precision")), "n_train": int(report.get("n_train") or 0),
        "auroc_basis": verdict["auroc_basis"] or "",
    })
    rows = report.get("sources") or []
    for r in rows:
        if r.get("held_out"):
            key = "".join(c if c.isalnum() else "_" for c in str(r["source"]))
            values[f"loso_auroc_{key}"] = num(r.get("auroc"))
            values[f"loso_{'flag_rate' if r['label'] == 'human' else 'recall'}_{key}"] = num(
                r.get("flag_rate") if r["label"] == "human" else r.get("recall"))
    if rows:
        tables["sources"] = pd.DataFrame([{k: r.get(k) for k in ("source", "label", "n", "held_out", "auroc",
                                                                   "flag_rate", "recall", "note")} for r in rows])
    auroc = verdict["auroc"]
    if passed:
        description = (f"{verdict['auroc_basis']} AUROC {auroc:.3f} >= floor {floor:.3f}; human flag rate "
                       f"{report.get('human_flag_rate', 0):.1%} (target {report.get('max_human_flag_rate', 0):.1%}, "
                       f"tolerated up to {verdict.get('flag_rate_limit') or 0:.1%})")
    else:
        description = ("; ".join(verdict["reasons"])
                       + ": detector labels (synthetic_suspected / human_presumed) are not trusted")
    return GateOutcome("detector_health", passed, description, tables=tables, values=values,
                       details={"auroc": auroc, "floor": floor, "reasons": verdict["reasons"]})


def evaluate_all(con: duckdb.DuckDBPyConnection, candidate: dict, max_chars: int) -> list[GateOutcome]:
    """Run every gate on the candidate and record each verdict for its fingerprint."""
    outcomes = [gx_schema(con, candidate, max_chars), gx_provenance(con, candidate), gx_licenses(con, candidate),
                gx_conservation(con, candidate), diversity(candidate), detector_health(con, candidate)]
    for outcome in outcomes:
        record_gate(con, candidate["fingerprint"], outcome.gate, outcome.passed, outcome.details)
    return outcomes
