"""Diversity and drift gates on mix_candidate, relative to the pinned human baseline."""

from dagster import AssetCheckExecutionContext, AssetCheckResult, asset_check
from dagster_duckdb import DuckDBResource

from anchormix import gate_checks
from anchormix.diversity_gate import RULE
from assets.mix import mix_candidate
from checks._gate import run_gate
from pipelines.partitions import drop_partitions
from pipelines.resources import DUCKDB_POOL


@asset_check(
    asset=mix_candidate, name="diversity_gates", blocking=True, pool=DUCKDB_POOL, partitions_def=drop_partitions,
    description=RULE + (
        " The metadata gives each test's value, healthy median, band and p-value (plotted per partition), the "
        "clusters by name, and a non-blocking WARN verdict on the records new in this candidate. A failure is "
        "what model collapse looks like: add human data for the named clusters or hold back the source."
    ),
)
def diversity_gates(context: AssetCheckExecutionContext, duckdb: DuckDBResource) -> AssetCheckResult:
    return run_gate(context, duckdb, lambda con, c: gate_checks.diversity(c))
