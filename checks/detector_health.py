"""Detector-health gate: detector labels are only trusted from a detector that generalises."""

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
        "Does the synthetic-text detector generalise? Each source of its training set (each generator, each "
        "human archive) is held out in turn and scored by a model trained without it: the lowest of these "
        "leave-one-source-out AUROCs (or the cross-validated AUROC when no source can be held out) must reach "
        "[detector] auroc_floor. The human false-flag rate (cross-validated, and per held-out human source) must "
        "not exceed [detector] max_human_flag_rate by more than chance allows (one-sided binomial test at "
        "flag_rate_alpha, 1 %). Otherwise synthetic_suspected / human_presumed labels are not trusted and the mix "
        "is not published. Metadata plots each source's figures. Fix by adding confidently labelled records "
        "from more sources (signed human data, declared output of more generators), or lower the floor for one "
        "run in the Launchpad, knowingly."
    ),
)
def detector_health(context: AssetCheckExecutionContext, duckdb: DuckDBResource) -> AssetCheckResult:
    return run_gate(context, duckdb, gate_checks.detector_health)
