"""curation group: semantic duplicates over the cached embeddings (FAISS)."""

from dagster import AssetExecutionContext, MaterializeResult, asset
from dagster_duckdb import DuckDBResource

from anchormix.stages.semantic import semantic_drop
from assets._meta import OWNERS, md_table
from assets.dedup import DEDUP_SCHEMA
from pipelines.partitions import drop_partitions
from pipelines.resources import DUCKDB_POOL, EmbeddingResource, open_store
from pipelines.settings import settings


@asset(
    group_name="curation",
    partitions_def=drop_partitions,
    deps=["embeddings"],
    kinds={"faiss", "duckdb"},
    owners=OWNERS,
    code_version="1",
    pool=DUCKDB_POOL,
    description=(
        "SemDeDup-style semantic duplicates: records of this drop whose embedding has cosine >= tau with an "
        "accepted record (or an earlier record of the drop), searched with FAISS within k-means clusters. "
        "History records always win; within the drop the earlier drop, higher quality, then smaller id wins."
    ),
    metadata={"dagster/column_schema": DEDUP_SCHEMA},
)
def semantic_dedup(context: AssetExecutionContext, duckdb: DuckDBResource,
                   embedding: EmbeddingResource) -> MaterializeResult:
    drop = context.partition_key
    with open_store(duckdb) as con:
        summary = semantic_drop(con, drop, settings().dedup, embedding.settings())
        dups = con.execute(
            "SELECT id, duplicate_of, round(similarity, 4) AS cosine FROM dedup "
            "WHERE drop = ? AND method = 'semantic' ORDER BY id", [drop]).df()
    return MaterializeResult(metadata={**{k: v for k, v in summary.items()}, "duplicates": md_table(dups)})
