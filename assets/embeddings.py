"""curation group: sentence-transformers vectors, cached by (content hash, model id)."""

from dagster import AssetExecutionContext, MaterializeResult
from dagster_duckdb import DuckDBResource

from assets._stage import stage_asset, staged, with_resources
from pipelines.resources import EmbeddingResource, EngineResource


@stage_asset(
    "embeddings",
    kinds={"pytorch", "duckdb"},
    description=(
        "L2-normalized sentence embeddings of this drop's eligible records (and of any earlier one without a "
        "vector for this model, e.g. after a model change). Vectors are cached in "
        "`embedding_cache` keyed by (content hash, model id): a run encodes only text it has not embedded "
        "with this model before. Vectors of two models are never mixed. On the Ray `engine`, the texts to encode "
        "go to an actor pool, one model load per actor."
    ),
)
def embeddings(context: AssetExecutionContext, duckdb: DuckDBResource,
               embedding: EmbeddingResource, engine: EngineResource) -> MaterializeResult:
    with staged(context, duckdb, "embeddings", with_resources(embedding), engine=engine) as (_, summary, stats):
        pass
    context.log.info(f"embedded {summary['cache_misses']} new texts, {summary['cache_hits']} from cache")
    return MaterializeResult(metadata={
        **stats, "engine": engine.settings().kind, "dagster/row_count": summary["records"], "cache_hits": summary["cache_hits"],
        "cache_misses": summary["cache_misses"], "docs_per_s": round(summary["docs_per_s"], 1),
        "model_id": summary["model_id"], "dim": summary["dim"],
    })
