"""GX Core 1.x suites on mix_candidate: schema, provenance ratios, conservation."""

from __future__ import annotations

from dagster import AssetCheckExecutionContext, AssetCheckResult, MetadataValue, asset_check
from dagster_duckdb import DuckDBResource

from anchormix.gx_suites import (
    conservation_expectations,
    provenance_expectations,
    run_suite,
    schema_expectations,
    with_ratio_columns,
)
from anchormix.stages.mix import candidate_frame
from anchormix.stages.states import conservation_frame
from assets.mix import mix_candidate
from checks._gate import current_candidate, md, save_run_artifact, verdict
from pipelines.resources import DUCKDB_POOL, open_store
from pipelines.settings import SETTINGS


def _result(context, con, candidate, gate, outcome, extra: dict | None = None) -> AssetCheckResult:
    path = save_run_artifact(context, gate, outcome.result_json)
    failed = outcome.failures
    description = (f"{len(outcome.rows)} expectations passed" if outcome.success
                   else f"{len(failed)} of {len(outcome.rows)} expectations failed: "
                        + "; ".join(f"{r['expectation']}({r['column'] or ''}) observed {r['observed']}" for r in failed))
    metadata = {
        "failed_expectations": md(outcome.markdown(only_failures=True) if failed else "_none_"),
        "all_expectations": md(outcome.markdown()),
        "gx_validation_result": MetadataValue.path(str(path)),
        **(extra or {}),
    }
    return verdict(context, con, candidate, gate, outcome.success, description, metadata,
                   {"failures": failed, "gx_result": str(path)})


@asset_check(
    asset=mix_candidate, name="gx_schema", blocking=True, pool=DUCKDB_POOL,
    description=(
        "GX suite: required columns present, typed and non-null, ids unique, text length within bounds, "
        "64-hex content hashes. A failure means a stage wrote malformed rows: read the failed expectations, "
        "fix the stage or the input, and re-run the partition."
    ),
)
def gx_schema(context: AssetCheckExecutionContext, duckdb: DuckDBResource) -> AssetCheckResult:
    with open_store(duckdb) as con:
        candidate = current_candidate(context, con)
        frame = candidate_frame(con, candidate["fingerprint"])
        outcome = run_suite("schema", frame, schema_expectations(1, SETTINGS.ingest.max_text_bytes))
        return _result(context, con, candidate, "gx_schema", outcome)


@asset_check(
    asset=mix_candidate, name="gx_provenance", blocking=True, pool=DUCKDB_POOL,
    description=(
        "GX suite: provenance classes in the allowed set, human share >= floor, synthetic share <= cap, "
        "unknown share <= cap, every record backed by at least one evidence row. A failure means the mix "
        "would drift away from human data: add human data, lower the target size, or (deliberately) change "
        "the policy for one run in the Launchpad."
    ),
)
def gx_provenance(context: AssetCheckExecutionContext, duckdb: DuckDBResource) -> AssetCheckResult:
    with open_store(duckdb) as con:
        candidate = current_candidate(context, con)
        policy = candidate["policy"]
        frame = with_ratio_columns(candidate_frame(con, candidate["fingerprint"]))
        outcome = run_suite("provenance", frame, provenance_expectations(
            policy["human_floor"], policy["synthetic_cap"], policy["unknown_cap"]))
        shares = candidate["report"].get("shares", {})
        return _result(context, con, candidate, "gx_provenance", outcome,
                       {"shares": MetadataValue.json(shares), "policy": MetadataValue.json(policy)})


@asset_check(
    asset=mix_candidate, name="gx_conservation", blocking=True, pool=DUCKDB_POOL,
    description=(
        "GX suite: records in = published/selected + held + filtered + duplicate + quarantined. A failure "
        "means a stage lost records: see `unaccounted` in the metadata and re-run the stages of the partition."
    ),
)
def gx_conservation(context: AssetCheckExecutionContext, duckdb: DuckDBResource) -> AssetCheckResult:
    with open_store(duckdb) as con:
        candidate = current_candidate(context, con)
        frame = conservation_frame(con, context.partition_key, candidate["fingerprint"])
        outcome = run_suite("conservation", frame, conservation_expectations())
        counts = {k: int(v) for k, v in frame.iloc[0].items()}
        return _result(context, con, candidate, "gx_conservation", outcome, {"counts": MetadataValue.json(counts)})
