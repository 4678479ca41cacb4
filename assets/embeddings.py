"""curation group: sentence-transformers vectors, cached by (content hash, model id)."""

from dagster import AssetExecutionContext, MaterializeResult, asset
from dagster_duckdb import DuckDBResource

from anchormix.stages.embed import embed_drop
from assets._meta import OWNERS
from pipelines.partitions import drop_partitions
from pipelines.resources import DUCKDB_POOL, EmbeddingResource, open_store


@asset(
    group_name="curation",
    partitions_def=drop_partitions,
    deps=["quality"],
    kinds={"pytorch", "duckdb"},
    owners=OWNERS,
    code_version="1",
    pool=DUCKDB_POOL,
    description=(
        "L2-normalized sentence embeddings of every eligible record through this drop. Vectors are cached in "
        "`embedding_cache` keyed by (content hash, model id): a run encodes only text it has not embedded "
        "with this model before. Vectors of two models are never mixed."
    ),
)
def embeddings(context: AssetExecutionContext, duckdb: DuckDBResource,
               embedding: EmbeddingResource) -> MaterializeResult:
    with open_store(duckdb) as con:
        summary = embed_drop(con, context.partition_key, embedding.settings())
    context.log.info(f"embedded {summary['cache_misses']} new texts, {summary['cache_hits']} from cache")
    return MaterializeResult(metadata={
        "dagster/row_count": summary["records"], "cache_hits": summary["cache_hits"],
        "cache_misses": summary["cache_misses"], "docs_per_s": round(summary["docs_per_s"], 1),
        "model_id": summary["model_id"], "dim": summary["dim"],
    })
