"""Detector-health gate: suspected labels are only trusted from a detector that still separates."""

from __future__ import annotations

from dagster import AssetCheckExecutionContext, AssetCheckResult, MetadataValue, asset_check
from dagster_duckdb import DuckDBResource

from anchormix.stages.provenance import latest_detector
from assets.mix import mix_candidate
from checks._gate import current_candidate, verdict
from pipelines.resources import DUCKDB_POOL, open_store


@asset_check(
    asset=mix_candidate, name="detector_health", blocking=True, pool=DUCKDB_POOL,
    description=(
        "The synthetic-text detector's held-out AUROC must be >= the configured floor; below it, "
        "synthetic_suspected / human_presumed labels are not trusted and the mix is not published. Fix by "
        "adding confidently labelled records (signed human data, declared generator output) or lowering the "
        "floor for one run in the Launchpad, knowingly."
    ),
)
def detector_health(context: AssetCheckExecutionContext, duckdb: DuckDBResource) -> AssetCheckResult:
    with open_store(duckdb) as con:
        candidate = current_candidate(context, con)
        floor = float(candidate["thresholds"]["detector_auroc_floor"])
        det = latest_detector(con, context.partition_key)
        if det is None:
            return verdict(context, con, candidate, "detector_health", False,
                           "provenance has not run for this partition", {}, {})
        detector_labels = con.execute(
            "SELECT count(*) FROM provenance WHERE drop <= ? AND class IN ('synthetic_suspected') ",
            [context.partition_key]).fetchone()[0]
        auroc = det.get("heldout_auroc")
        if not det.get("trained"):
            passed = detector_labels == 0
            description = (f"no detector trained ({det.get('reason')}); no record relies on it"
                           if passed else f"no detector trained but {detector_labels} records carry detector labels")
        else:
            passed = auroc is not None and auroc >= floor
            description = (f"held-out AUROC {auroc:.3f} >= floor {floor:.3f}" if passed
                           else f"held-out AUROC {auroc:.3f} is below the floor {floor:.3f} by {floor - auroc:.3f}: "
                                "suspected labels are not trusted")
        metadata = {
            "heldout_auroc": float(auroc) if auroc is not None else -1.0,
            "auroc_floor": floor,
            "detector": MetadataValue.json({k: (None if v != v else v) if isinstance(v, float) else str(v)
                                            for k, v in det.items()}),
        }
        return verdict(context, con, candidate, "detector_health", passed, description, metadata,
                       {"auroc": auroc, "floor": floor})
