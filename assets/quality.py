"""curation group: heuristic quality signals (Gopher / C4 / FineWeb style)."""

from dagster import AssetExecutionContext, MaterializeResult
from dagster_duckdb import DuckDBResource

from assets._meta import md_counts, schema
from assets._stage import stage_asset, staged
from pipelines.resources import EngineResource


@stage_asset(
    "quality",
    kinds={"duckdb", "python"},
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
def quality(context: AssetExecutionContext, duckdb: DuckDBResource, engine: EngineResource) -> MaterializeResult:
    with staged(context, duckdb, "quality", engine=engine) as (_, summary, stats):
        pass
    return MaterializeResult(metadata={
        **stats, "engine": engine.settings().kind, "dagster/row_count": summary["scored"], "passed": summary["passed"],
        "filtered": summary["failed"],
        "filter_reasons": md_counts(summary["reasons"], "rule", "records"),
    })
