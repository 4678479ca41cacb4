"""curation group: exact and near duplicates (deduplicated)."""

from dagster import AssetExecutionContext, MaterializeResult
from dagster_duckdb import DuckDBResource

from assets._meta import md_table, schema
from assets._stage import stage_asset, staged
from pipelines.resources import EngineResource
from pipelines.settings import settings

DEDUP_SCHEMA = schema([
    ("id", "string", ""), ("status", "string", "unique | duplicate"),
    ("duplicate_of", "string", "the accepted record it duplicates"),
    ("method", "string", "exact | minhash | semantic"), ("similarity", "double", "Jaccard or cosine"),
])


@stage_asset(
    "deduplicated",
    kinds={"duckdb", "python"},
    description=(
        "Exact duplicates (same content hash, across all history; tonight's hashes joined against history's) and "
        "near duplicates (MinHash LSH on word shingles against every accepted record; tonight's band keys joined "
        "against the stored ones). Each duplicate records the id it duplicates. Signatures are computed on the "
        "`engine` (in process, or on Ray); the joins run in DuckDB."
    ),
    metadata={"dagster/column_schema": DEDUP_SCHEMA},
)
def deduplicated(context: AssetExecutionContext, duckdb: DuckDBResource, engine: EngineResource) -> MaterializeResult:
    drop = context.partition_key
    with staged(context, duckdb, "deduplicated", engine=engine) as (con, counts, stats):
        dups = con.execute(
            "SELECT id, method, duplicate_of, round(similarity, 3) AS similarity FROM dedup "
            "WHERE drop = ? AND status = 'duplicate' ORDER BY method, id", [drop]).df()
    return MaterializeResult(metadata={
        **stats, "engine": engine.settings().kind, "dagster/row_count": counts["records"], "unique": counts["unique"],
        "exact_duplicates": counts["exact"], "near_duplicates": counts["minhash"],
        "minhash_threshold": settings().dedup.minhash_threshold, "duplicates": md_table(dups),
    })
