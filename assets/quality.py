"""curation group: heuristic quality signals (Gopher / C4 / FineWeb style)."""

from dagster import AssetExecutionContext, MaterializeResult, asset
from dagster_duckdb import DuckDBResource

from anchormix.stages.quality import quality_drop
from assets._meta import OWNERS, md_counts, schema
from pipelines.partitions import drop_partitions
from pipelines.resources import DUCKDB_POOL, open_store
from pipelines.settings import settings


@asset(
    group_name="curation",
    partitions_def=drop_partitions,
    deps=["provenance"],
    kinds={"duckdb", "python"},
    owners=OWNERS,
    code_version="1",
    pool=DUCKDB_POOL,
    description=(
        "Heuristic quality of each unique record: word count, mean word length, symbol ratio, alphabetic words, "
        "stop words, ellipsis and duplicate lines. Each rule gives a pass/fail and a reason; a record failing "
        "any rule ends `filtered` with that reason."
    ),
    metadata={"dagster/column_schema": schema([
        ("id", "string", ""), ("score", "double", "share of rules passed"),
        ("passed", "bool", ""), ("reasons", "string", "failed rules"),
    ])},
)
def quality(context: AssetExecutionContext, duckdb: DuckDBResource) -> MaterializeResult:
    with open_store(duckdb) as con:
        summary = quality_drop(con, context.partition_key, settings().quality)
    return MaterializeResult(metadata={
        "dagster/row_count": summary["scored"], "passed": summary["passed"], "filtered": summary["failed"],
        "filter_reasons": md_counts(summary["reasons"], "rule", "records"),
    })
