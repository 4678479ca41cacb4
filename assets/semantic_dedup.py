"""curation group: semantic duplicates over the cached embeddings (FAISS)."""

from dagster import AssetExecutionContext, MaterializeResult
from dagster_duckdb import DuckDBResource

from assets._meta import md_table
from assets._stage import stage_asset, staged, with_resources
from assets.dedup import DEDUP_SCHEMA
from pipelines.resources import EmbeddingResource


@stage_asset(
    "semantic_dedup",
    kinds={"faiss", "duckdb"},
    description=(
        "SemDeDup-style semantic duplicates: records of this drop whose embedding has cosine >= tau with an "
        "accepted record (searched in the FAISS IVF index of accepted vectors kept beside the store, its "
        "centroids retrained as history doubles) or an earlier record of the drop. "
        "History records always win; within the drop the earlier drop, higher quality, then smaller id wins."
    ),
    metadata={"dagster/column_schema": DEDUP_SCHEMA},
)
def semantic_dedup(context: AssetExecutionContext, duckdb: DuckDBResource,
                   embedding: EmbeddingResource) -> MaterializeResult:
    drop = context.partition_key
    with staged(context, duckdb, "semantic_dedup", with_resources(embedding)) as (con, summary, stats):
        dups = con.execute(
            "SELECT id, duplicate_of, round(similarity, 4) AS cosine FROM dedup "
            "WHERE drop = ? AND method = 'semantic' ORDER BY id", [drop]).df()
    return MaterializeResult(metadata={**stats, **summary, "duplicates": md_table(dups)})
