"""Turn a Dagster-free gate outcome into a recorded verdict and an ERROR-severity check result."""

import json
from collections.abc import Callable

import pandas as pd
from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, MetadataValue
from dagster_duckdb import DuckDBResource

from anchormix.gate_checks import GateOutcome
from anchormix.gates import record_gate
from anchormix.stages.mix import latest_candidate
from assets._meta import md_table
from pipelines.resources import open_store
from pipelines.settings import settings


def _metadata_value(value):
    if isinstance(value, pd.DataFrame):
        return md_table(value, max_rows=50, max_chars=200)
    if isinstance(value, str):
        return MetadataValue.md(value)
    if isinstance(value, (dict, list)):
        return MetadataValue.json(json.loads(json.dumps(value, default=str)))
    return value


def run_gate(context: AssetCheckExecutionContext, duckdb: DuckDBResource,
             judge: Callable[[object, dict], GateOutcome]) -> AssetCheckResult:
    """Judge the candidate this run built for its partition and record the verdict."""
    with open_store(duckdb) as con:
        candidate = latest_candidate(con, context.partition_key)
        if candidate is None:
            return AssetCheckResult(passed=False, severity=AssetCheckSeverity.ERROR,
                                    description=f"no candidate mix for {context.partition_key}")
        outcome = judge(con, candidate)
        record_gate(con, candidate["fingerprint"], outcome.gate, outcome.passed, outcome.details)
    metadata = {"fingerprint": candidate["fingerprint"]}
    metadata.update({k: _metadata_value(v) for k, v in {**outcome.tables, **outcome.values}.items()})
    if outcome.gx_result is not None:
        folder = settings().paths.runs / context.run.run_id
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{outcome.gate}.json"
        path.write_text(json.dumps(outcome.gx_result, indent=2, default=str))
        metadata["gx_validation_result"] = MetadataValue.path(str(path))
    return AssetCheckResult(passed=outcome.passed, severity=AssetCheckSeverity.ERROR,
                            description=outcome.description, metadata=metadata)
