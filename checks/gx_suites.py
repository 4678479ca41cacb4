"""GX Core 1.x suites on mix_candidate: schema, provenance ratios, license policy, conservation."""

from dagster import AssetCheckExecutionContext, AssetCheckResult, asset_check
from dagster_duckdb import DuckDBResource

from anchormix import gate_checks
from assets.mix import mix_candidate
from checks._gate import run_gate
from pipelines.partitions import drop_partitions
from pipelines.resources import DUCKDB_POOL
from pipelines.settings import settings


@asset_check(
    asset=mix_candidate, name="gx_schema", blocking=True, pool=DUCKDB_POOL, partitions_def=drop_partitions,
    description=(
        "GX suite: required columns present, typed and non-null, ids unique, text length within bounds, "
        "64-hex content hashes. A failure means a stage wrote malformed rows: read the failed expectations, "
        "fix the stage or the input, and re-run the partition."
    ),
)
def gx_schema(context: AssetCheckExecutionContext, duckdb: DuckDBResource) -> AssetCheckResult:
    return run_gate(context, duckdb, lambda con, c: gate_checks.gx_schema(con, c, settings().ingest.max_text_bytes))


@asset_check(
    asset=mix_candidate, name="gx_provenance", blocking=True, pool=DUCKDB_POOL, partitions_def=drop_partitions,
    description=(
        "GX suite: provenance classes in the allowed set, human share >= floor, synthetic share <= cap, "
        "unknown share <= cap, every record backed by at least one evidence row. A failure means the mix "
        "would drift away from human data: add human data, lower the target size, or (deliberately) change "
        "the policy for one run in the Launchpad."
    ),
)
def gx_provenance(context: AssetCheckExecutionContext, duckdb: DuckDBResource) -> AssetCheckResult:
    return run_gate(context, duckdb, gate_checks.gx_provenance)


@asset_check(
    asset=mix_candidate, name="gx_licenses", blocking=True, pool=DUCKDB_POOL, partitions_def=drop_partitions,
    description=(
        "GX suite: every record carries an SPDX license (its source's, from the registry), and each source's "
        "license is permitted by [mix] allowed_licenses / denied_licenses (e.g. no CC-BY-NC or CC-BY-ND terms in "
        "a commercial mix). A failure names each offending source, its license and the rule it breaks: hold the "
        "source back, re-license it, or change the policy knowingly."
    ),
)
def gx_licenses(context: AssetCheckExecutionContext, duckdb: DuckDBResource) -> AssetCheckResult:
    return run_gate(context, duckdb, gate_checks.gx_licenses)


@asset_check(
    asset=mix_candidate, name="gx_conservation", blocking=True, pool=DUCKDB_POOL, partitions_def=drop_partitions,
    description=(
        "GX suite: records in = published/selected + held + filtered + duplicate + quarantined. A failure "
        "means a stage lost records: see `unaccounted` in the counts and re-run the stages of the partition."
    ),
)
def gx_conservation(context: AssetCheckExecutionContext, duckdb: DuckDBResource) -> AssetCheckResult:
    return run_gate(context, duckdb, gate_checks.gx_conservation)
