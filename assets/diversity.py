"""curation group: the pinned human baseline and the pool's diversity against it."""

import pandas as pd
from dagster import AssetExecutionContext, Failure, MaterializeResult, MetadataValue, asset
from dagster_duckdb import DuckDBResource

from anchormix.baseline import BaselineExists
from anchormix.stages.diversity import BaselineMissing, pin_from_store
from assets._meta import OWNERS, md_table
from assets._stage import stage_asset, staged, with_resources
from pipelines.resources import DUCKDB_POOL, EmbeddingResource, open_store
from pipelines.run_config import BaselineConfig
from pipelines.settings import settings


def _metrics(report: dict) -> dict:
    return {k: round(float(v), 4) for k, v in report.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


@asset(
    group_name="curation",
    deps=["provenance"],
    kinds={"faiss", "numpy"},
    owners=OWNERS,
    code_version="1",
    pool=DUCKDB_POOL,
    description=(
        "The pinned human baseline: k-means centroids frozen from accepted human records, their cluster "
        "histogram and diversity, and the embedding model id. Materialize it explicitly (job `pin_baseline`); "
        "it is never replaced silently: set `replace: true` in the Launchpad to re-pin."
    ),
)
def diversity_baseline(context: AssetExecutionContext, config: BaselineConfig, duckdb: DuckDBResource,
                       embedding: EmbeddingResource) -> MaterializeResult:
    through = config.through_drop or "9999-12-31"
    s = settings()
    with open_store(duckdb) as con:
        try:
            baseline, n_human = pin_from_store(
                con, through, s.paths.baseline, embedding.settings(), s.diversity.baseline_clusters,
                s.diversity.baseline_seed, s.diversity.min_baseline_records, overwrite=config.replace,
                typical_n=s.mix.target_size)
        except (BaselineMissing, BaselineExists) as exc:
            raise Failure(description=str(exc)) from exc
    for warning in baseline.adequacy:
        context.log.warning(f"baseline adequacy: {warning}")
    return MaterializeResult(metadata={
        "records": n_human, "n_clusters": int(len(baseline.weights)), "model_id": baseline.model_id,
        "path": MetadataValue.path(str(s.paths.baseline)),
        "baseline_vendi": round(float(baseline.vendi), 4),
        "baseline_effective_rank": round(float(baseline.effective_rank), 4),
        "baseline_cluster_entropy": round(float(baseline.cluster_entropy), 4),
        "created_at": baseline.created_at,
        "clusters": md_table(pd.DataFrame([{k: c[k] if k != "exemplars" else ", ".join(c[k]) for k in
                                             ("cluster", "label", "size", "exemplars")} for c in baseline.clusters]),
                             max_rows=100, max_chars=120),
        "adequacy": MetadataValue.md("\n".join(f"- {w}" for w in baseline.adequacy) or "adequate for its clusters"),
    })


@stage_asset(
    "diversity",
    kinds={"faiss", "duckdb"},
    extra_deps=[diversity_baseline],
    description=(
        "Places each new eligible record in a frozen baseline cluster (so the sampler can fill rare clusters; a "
        "re-pin places them all again) and measures a sample of the pool: Vendi score, effective rank, cluster "
        "entropy, tail coverage, JS divergence, distinct-n."
    ),
)
def diversity(context: AssetExecutionContext, duckdb: DuckDBResource,
              embedding: EmbeddingResource) -> MaterializeResult:
    try:
        with staged(context, duckdb, "diversity", with_resources(embedding)) as (_, summary, stats):
            pass
    except BaselineMissing as exc:
        raise Failure(description=str(exc)) from exc
    return MaterializeResult(metadata={
        **stats, "dagster/row_count": summary["pool"], "assigned_clusters": summary["assigned"], "baseline_records": summary["baseline_n"],
        "model_id": summary["model_id"], "pool_metrics": MetadataValue.json(_metrics(summary["report"])),
    })
