"""curation group: provenance evidence and classes, with the synthetic-text detector."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue
from dagster_duckdb import DuckDBResource

from assets._meta import md_counts, md_table, schema
from assets._stage import stage_asset, staged, with_resources
from pipelines.resources import EmbeddingResource, EngineResource


@stage_asset(
    "provenance",
    kinds={"scikitlearn", "duckdb"},
    description=(
        "One evidence row per (record, signal): registered source, signed text manifest (ed25519), C2PA media "
        "manifest, capture date, detector score. A documented precedence turns evidence into a class: "
        "human_verified, human_presumed, synthetic_declared, synthetic_suspected, unknown. The detector is "
        "retrained on human_verified vs synthetic_declared records and scores every unknown record. "
        "`anchormix explain <id>` shows a record's reasoning. The unknown records are scored on the `engine` "
        "(in process, or on Ray workers, the fitted model shipped with each task); training and classes run on "
        "the driver."
    ),
    metadata={"dagster/column_schema": schema([
        ("id", "string", ""), ("class", "string", "provenance class"), ("reason", "string", "why, from the evidence"),
    ])},
)
def provenance(context: AssetExecutionContext, duckdb: DuckDBResource,
               embedding: EmbeddingResource, engine: EngineResource) -> MaterializeResult:
    drop = context.partition_key
    # The detector's embedding block reads the run's embedding model, like every other vector step.
    with staged(context, duckdb, "provenance", with_resources(embedding), engine=engine) as (con, summary, stats):
        verdicts = con.execute(
            "SELECT signal, verdict, count(*) AS records FROM evidence WHERE drop <= ? GROUP BY ALL ORDER BY ALL",
            [drop]).df()
        examples = con.execute(
            "SELECT id, class, reason FROM (SELECT *, row_number() OVER (PARTITION BY class ORDER BY id) k "
            "FROM provenance WHERE drop = ?) WHERE k <= 2", [drop]).df()
    det = summary["detector"]
    total = max(1, summary["in_scope"])
    shares = {k: f"{v} ({v / total:.1%})" for k, v in summary["classes"].items()}
    return MaterializeResult(metadata={
        **stats, "engine": engine.settings().kind, "dagster/row_count": summary["in_scope"],
        "labelled_tonight": summary["labelled"], "full_relabel": bool(summary["full_relabel"]),
        "class_shares": md_counts(shares, "class", "records"),
        "evidence_verdicts": md_table(verdicts),
        "examples": md_table(examples, max_chars=160),
        "detector_trained": bool(det.get("trained")),
        "detector_version": str(det.get("version")),
        "detector_heldout_auroc": float(det["heldout_auroc"]) if det.get("heldout_auroc") is not None else -1.0,
        "detector_threshold": float(det["threshold"]) if det.get("threshold") is not None else -1.0,
        "detector_precision": float(det["precision"]) if det.get("precision") is not None else -1.0,
        "detector_recall": float(det["recall"]) if det.get("recall") is not None else -1.0,
        "detector": MetadataValue.json({k: v for k, v in det.items() if not hasattr(v, "shape")}),
    })
