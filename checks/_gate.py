"""What every gate does after judging: store the verdict, keep the evidence, report."""

from __future__ import annotations

import json
from pathlib import Path

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, MetadataValue

from anchormix.gates import record_gate
from anchormix.stages.mix import latest_candidate
from pipelines.settings import SETTINGS


class NoCandidate(Exception):
    pass


def current_candidate(context: AssetCheckExecutionContext, con) -> dict:
    """The candidate this run built for its partition."""
    candidate = latest_candidate(con, context.partition_key)
    if candidate is None:
        raise NoCandidate(f"no candidate for {context.partition_key}")
    return candidate


def save_run_artifact(context: AssetCheckExecutionContext, name: str, payload: dict) -> Path:
    """Keep a gate's raw result (e.g. GX validation JSON) with the run."""
    folder = SETTINGS.paths.runs / context.run.run_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


def verdict(context: AssetCheckExecutionContext, con, candidate: dict, gate: str, passed: bool,
            description: str, metadata: dict, details: dict) -> AssetCheckResult:
    """Record the verdict for the candidate's fingerprint and return an ERROR-severity result."""
    record_gate(con, candidate["fingerprint"], gate, passed, details)
    return AssetCheckResult(
        passed=bool(passed),
        severity=AssetCheckSeverity.ERROR,
        description=description,
        metadata={"fingerprint": candidate["fingerprint"], **metadata},
    )


def md(text: str) -> MetadataValue:
    return MetadataValue.md(text)
