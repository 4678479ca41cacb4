"""curation group: exact and near duplicates (deduplicated)."""

from dagster import AssetExecutionContext, MaterializeResult, asset
from dagster_duckdb import DuckDBResource

from anchormix.stages.dedup import dedup_drop
from assets._meta import OWNERS, md_table, schema
from pipelines.partitions import drop_partitions
from pipelines.resources import DUCKDB_POOL, open_store
from pipelines.settings import settings

DEDUP_SCHEMA = schema([
    ("id", "string", ""), ("status", "string", "unique | duplicate"),
    ("duplicate_of", "string", "the accepted record it duplicates"),
    ("method", "string", "exact | minhash | semantic"), ("similarity", "double", "Jaccard or cosine"),
])


@asset(
    group_name="curation",
    partitions_def=drop_partitions,
    deps=["normalized"],
    kinds={"duckdb", "python"},
    owners=OWNERS,
    code_version="1",
    pool=DUCKDB_POOL,
    description=(
        "Exact duplicates (same content hash, across all history) and near duplicates (MinHash LSH on word "
        "shingles against every accepted record). Each duplicate records the id it duplicates."
    ),
    metadata={"dagster/column_schema": DEDUP_SCHEMA},
)
def deduplicated(context: AssetExecutionContext, duckdb: DuckDBResource) -> MaterializeResult:
    drop = context.partition_key
    with open_store(duckdb) as con:
        counts = dedup_drop(con, drop, settings().dedup)
        dups = con.execute(
            "SELECT id, method, duplicate_of, round(similarity, 3) AS similarity FROM dedup "
            "WHERE drop = ? AND status = 'duplicate' ORDER BY method, id", [drop]).df()
    return MaterializeResult(metadata={
        "dagster/row_count": counts["records"], "unique": counts["unique"],
        "exact_duplicates": counts["exact"], "near_duplicates": counts["minhash"],
        "minhash_threshold": settings().dedup.minhash_threshold, "duplicates": md_table(dups),
    })
