"""gates group: the candidate mix, sampled under the ratio policy and measured."""

import pandas as pd
from dagster import AssetExecutionContext, Failure, MaterializeResult, MetadataValue
from dagster_duckdb import DuckDBResource

from anchormix.stages.diversity import BaselineMissing
from anchormix.value import value_frame
from assets._meta import md_table, schema
from assets._stage import stage_asset, staged, with_resources
from pipelines.resources import EmbeddingResource
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


@stage_asset(
    "mix_candidate",
    group="gates",
    kinds={"duckdb", "python"},
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
    project = with_resources(embedding, mix=config.policy(), gates=config.gates(),
                             detector=settings().detector.model_copy(update={"auroc_floor": config.detector_floor()}))
    try:
        with staged(context, duckdb, "mix_candidate", project) as (con, c, stats):
            history = history_table(con)
    except BaselineMissing as exc:
        raise Failure(description=str(exc)) from exc
    states = c["states"].groupby("state", as_index=False)["n"].sum()
    return MaterializeResult(metadata={
        **stats, "dagster/row_count": c["n_records"],
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
        # Which licensed human data the mix needs: each human source's loss when left out, vs random removal.
        "value_of_human_sources": md_table(value_frame(c["value"]), max_rows=30, max_chars=120),
        "valuable_human_sources": sum(1 for s in c["value"].get("sources", []) if s.get("verdict") == "valuable"),
        "probe_records": int(c["probes"]["records"]),
        "probe_records_per_cluster": MetadataValue.json(c["probes"]["per_cluster"]),
    })
