"""ingest group: raw_records (inbox → DuckDB, bad rows quarantined) and normalized."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue
from dagster_duckdb import DuckDBResource

from anchormix.stages.ingest import drop_files
from assets._meta import md_counts, md_table, schema
from assets._stage import stage_asset, staged
from pipelines.resources import EngineResource
from pipelines.settings import settings


@stage_asset(
    "raw_records",
    group="ingest",
    kinds={"duckdb", "python"},
    description=(
        "Rows of the drop's inbox files (inbox/<drop>/*.jsonl|.jsonl.gz|.parquet|.csv) validated against the "
        "record schema. Malformed rows go to the `quarantine` table with file, line and reason; the good rows of "
        "the same file still load. A file already ingested (same bytes, any name) adds nothing."
    ),
    metadata={"dagster/column_schema": schema([
        ("id", "string", "declared record id, unique across history"),
        ("drop", "string", "partition the record arrived in"),
        ("file", "string", "inbox file"), ("line", "int", "1-based line / row"),
        ("url", "string", ""), ("fetched_at", "string", "ISO 8601"), ("text", "string", "raw text"),
        ("source", "string", "registered source name"), ("manifest", "json", "signed manifest, if any"),
    ])},
)
def raw_records(context: AssetExecutionContext, duckdb: DuckDBResource) -> MaterializeResult:
    drop = context.partition_key
    files = drop_files(settings().paths.inbox, drop)
    if not files:
        context.log.warning(f"no inbox files in {settings().paths.inbox / drop}")
    with staged(context, duckdb, "raw_records") as (con, report, stats):
        total = con.execute("SELECT count(*) FROM raw_records WHERE drop = ?", [drop]).fetchone()[0]
        quarantined = con.execute(
            "SELECT file, line, reason FROM quarantine WHERE drop = ? ORDER BY file, line", [drop]).df()
    return MaterializeResult(metadata={
        **stats, "dagster/row_count": int(total),
        "loaded_this_run": report.loaded,
        "quarantined_this_run": report.quarantined,
        "files_new": MetadataValue.json(report.files_new),
        "files_skipped": MetadataValue.json(report.files_skipped),
        "quarantine_reasons": md_counts(report.reasons, "reason", "rows"),
        "quarantine": md_table(quarantined),
    })


@stage_asset(
    "normalized",
    group="ingest",
    kinds={"duckdb", "python"},
    description="Unicode NFC and whitespace normalization, then a sha256 content hash every later stage keys on.",
    metadata={"dagster/column_schema": schema([
        ("id", "string", ""), ("norm_text", "string", "normalized text"),
        ("content_hash", "string", "sha256 of the normalized text"), ("n_words", "int", ""),
    ])},
)
def normalized(context: AssetExecutionContext, duckdb: DuckDBResource, engine: EngineResource) -> MaterializeResult:
    drop = context.partition_key
    with staged(context, duckdb, "normalized", engine=engine) as (con, n, stats):
        preview = con.execute(
            "SELECT id, content_hash, n_words, norm_text FROM normalized WHERE drop = ? LIMIT 10", [drop]).df()
    return MaterializeResult(metadata={**stats, "engine": engine.settings().kind, "dagster/row_count": n,
                                       "preview": md_table(preview)})
