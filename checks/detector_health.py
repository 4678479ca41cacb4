"""Detector-health gate: suspected labels are only trusted from a detector that still separates."""

from dagster import AssetCheckExecutionContext, AssetCheckResult, asset_check
from dagster_duckdb import DuckDBResource

from anchormix import gate_checks
from assets.mix import mix_candidate
from checks._gate import run_gate
from pipelines.partitions import drop_partitions
from pipelines.resources import DUCKDB_POOL


@asset_check(
    asset=mix_candidate, name="detector_health", blocking=True, pool=DUCKDB_POOL, partitions_def=drop_partitions,
    description=(
        "The synthetic-text detector's held-out AUROC must be >= the configured floor; below it, "
        "synthetic_suspected / human_presumed labels are not trusted and the mix is not published. Fix by "
        "adding confidently labelled records (signed human data, declared generator output), or lower the "
        "floor for one run in the Launchpad, knowingly."
    ),
)
def detector_health(context: AssetCheckExecutionContext, duckdb: DuckDBResource) -> AssetCheckResult:
    return run_gate(context, duckdb, gate_checks.detector_health)
