"""Diversity and drift gates on mix_candidate, relative to the pinned human baseline."""

from dagster import AssetCheckExecutionContext, AssetCheckResult, asset_check
from dagster_duckdb import DuckDBResource

from anchormix import gate_checks
from assets.mix import mix_candidate
from checks._gate import run_gate
from pipelines.partitions import drop_partitions
from pipelines.resources import DUCKDB_POOL


@asset_check(
    asset=mix_candidate, name="diversity_gates", blocking=True, pool=DUCKDB_POOL, partitions_def=drop_partitions,
    description=(
        "Embedding-diversity gates: Vendi ratio to the baseline >= floor, tail coverage of the baseline's rare "
        "clusters >= floor, JS divergence of the cluster histogram from the baseline <= ceiling, and Vendi drop "
        "from the previous published generation <= ceiling. A failure is what model collapse looks like: "
        "lost tails and shrinking variety. The metadata names the failed metric, by how much, and the rare "
        "clusters that lost coverage; add human data for them or hold back the synthetic source."
    ),
)
def diversity_gates(context: AssetCheckExecutionContext, duckdb: DuckDBResource) -> AssetCheckResult:
    return run_gate(context, duckdb, lambda con, c: gate_checks.diversity(c))
