"""publish group: curated_mix, the published generation."""

from datetime import timedelta
from pathlib import Path

from dagster import AssetExecutionContext, Failure, FreshnessPolicy, MaterializeResult, MetadataValue
from dagster_duckdb import DuckDBResource

from anchormix.errors import PublishRefused
from assets._meta import md_table, schema
from assets._stage import stage_asset, staged


@stage_asset(
    "curated_mix",
    group="publish",
    kinds={"parquet", "json"},
    freshness_policy=FreshnessPolicy.time_window(fail_window=timedelta(hours=36), warn_window=timedelta(hours=26)),
    description=(
        "The published training mix: Parquet shards, a manifest with per-record provenance and hashes, a "
        "Croissant JSON-LD file and a data card with plots, swapped in atomically as a new numbered generation. "
        "It refuses (fails) when the candidate's gates failed, were never run, or the candidate is stale, even in "
        "a run that selects only this asset; the previous generation stays untouched."
    ),
    metadata={"dagster/column_schema": schema([
        ("id", "string", ""), ("text", "string", ""), ("source", "string", ""),
        ("provenance_class", "string", ""), ("content_hash", "string", "sha256"), ("drop", "string", ""),
        ("url", "string", ""), ("license", "string", "SPDX expression of the record's source"),
    ])},
)
def curated_mix(context: AssetExecutionContext, duckdb: DuckDBResource) -> MaterializeResult:
    try:
        with staged(context, duckdb, "curated_mix") as (_, result, stats):
            pass
    except PublishRefused as exc:
        raise Failure(description=f"Refusing to publish: {exc}") from exc
    metadata = {
        **stats,
        "generation": int(result["generation"]), "fingerprint": result["fingerprint"],
        "path": MetadataValue.path(result["path"]),
        "already_published": bool(result["already_published"]),
        "unchanged_since_previous": bool(result.get("unchanged", False)),
    }
    if result.get("probes"):
        metadata["probes"] = MetadataValue.path(result["probes"])
    if not result["already_published"]:
        metadata["dagster/row_count"] = int(result["n_records"])
        metadata["data_card"] = MetadataValue.md(result["card"])
        metadata["data_card_file"] = MetadataValue.path(str(Path(result["path"]) / "README.md"))
        metadata["croissant"] = MetadataValue.path(str(Path(result["path"]) / "croissant.json"))
        # Who signed it (`anchormix verify` checks it) and under which licenses, one row per source.
        metadata["signed_by"] = result.get("signed_by") or "unsigned"
        metadata["attribution"] = md_table(result["attribution"])
        for plot in sorted((Path(result["path"]) / "plots").glob("*.png")):
            metadata[f"plot_{plot.stem}"] = MetadataValue.path(str(plot))
    return MaterializeResult(metadata=metadata)
