"""gates group: the candidate mix, sampled under the ratio policy and measured."""

import pandas as pd
from dagster import AssetExecutionContext, Failure, MaterializeResult, MetadataValue, asset
from dagster_duckdb import DuckDBResource

from anchormix.stages.diversity import BaselineMissing
from anchormix.stages.mix import build_candidate
from assets._meta import OWNERS, md_table, schema
from pipelines.partitions import drop_partitions
from pipelines.resources import DUCKDB_POOL, EmbeddingResource, open_store
from pipelines.run_config import MixConfig
from pipelines.settings import settings

HISTORY_METRICS = ("share_human", "vendi", "vendi_ratio", "tail_coverage", "js_baseline", "n_records")


def comparison_table(report: dict, previous: dict | None, baseline: dict | None = None) -> pd.DataFrame:
    """Candidate metrics beside the previous published generation's and the pinned baseline's."""
    prev = (previous or {}).get("report", {})
    base = baseline or {}
    rows = []
    for key, value in report.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            before, pinned = prev.get(key), base.get(key)
            rows.append({"metric": key, "candidate": round(float(value), 4),
                         "previous": "" if before is None else round(float(before), 4),
                         "baseline": "" if pinned is None else round(float(pinned), 4)})
    return pd.DataFrame(rows)


def history_table(con, metrics=HISTORY_METRICS) -> pd.DataFrame:
    """Published generations' key metrics, one row per generation."""
    frame = con.execute(
        "SELECT generation, drop, metric, value FROM metrics_history WHERE published AND metric IN "
        f"({', '.join('?' for _ in metrics)}) ORDER BY generation", list(metrics)).df()
    if frame.empty:
        return frame
    return frame.pivot_table(index=["generation", "drop"], columns="metric", values="value").reset_index().round(4)


@asset(
    group_name="gates",
    partitions_def=drop_partitions,
    deps=["diversity"],
    kinds={"duckdb", "python"},
    owners=OWNERS,
    code_version="1",
    pool=DUCKDB_POOL,
    description=(
        "The staging mix: records sampled under the ratio policy (human floor, synthetic cap, unknown cap, "
        "per-source caps, target size, seed; accumulate keeps earlier published human records) with synthetic "
        "records admitted first into under-represented baseline clusters. Its diversity is measured against "
        "the baseline and the previous generation. Blocking checks judge it; `curated_mix` publishes it only "
        "if every check passed for this exact candidate (its fingerprint)."
    ),
    metadata={"dagster/column_schema": schema([
        ("id", "string", ""), ("text", "string", "normalized text"), ("source", "string", ""),
        ("provenance_class", "string", ""), ("content_hash", "string", "sha256"), ("drop", "string", ""),
        ("selection_reason", "string", "why the sampler took it"),
    ])},
)
def mix_candidate(context: AssetExecutionContext, config: MixConfig, duckdb: DuckDBResource,
                  embedding: EmbeddingResource) -> MaterializeResult:
    drop = context.partition_key
    with open_store(duckdb) as con:
        try:
            c = build_candidate(con, drop, config.policy(), config.gates(), config.detector_floor(),
                                settings().paths.baseline, embedding.settings(), settings().diversity.tail)
        except BaselineMissing as exc:
            raise Failure(description=str(exc)) from exc
        history = history_table(con)
    states = c["states"].groupby("state", as_index=False)["n"].sum()
    return MaterializeResult(metadata={
        "dagster/row_count": c["n_records"],
        "fingerprint": c["fingerprint"],
        "generation_if_published": c["generation"],
        "feasible": c["feasible"],
        "infeasible_reasons": MetadataValue.json(c["infeasible_reasons"]),
        "shares": MetadataValue.json({k: round(float(v), 4) for k, v in c["shares"].items()}),
        "why_each_source": md_table(c["per_source"], max_chars=120),
        "diversity_vs_previous_and_baseline": md_table(
            comparison_table(c["report"], c["previous"], c["baseline_metrics"]), max_rows=40),
        "terminal_states": md_table(states),
        "generation_history": md_table(history, max_rows=50),
        "policy": MetadataValue.json(c["policy"]),
    })
