"""The inbox sensor: a run for a drop whenever files land in (or change under) it."""

from __future__ import annotations

import hashlib
import json

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from anchormix.stages.ingest import drop_files, list_drops
from pipelines.jobs import nightly_job
from pipelines.partitions import drop_partitions
from pipelines.settings import settings


def last_ingest_ns(context: SensorEvaluationContext, drop: str) -> int:
    """When raw_records was last materialized for ``drop`` (0 if never), in ns."""
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("raw_records"), asset_partitions=[drop]), limit=1)
    return int(records.records[0].timestamp * 1e9) if records.records else 0


def inbox_state() -> dict[str, dict[str, int]]:
    """``{drop: {file: mtime_ns}}`` for every drop folder in the inbox."""
    state = {}
    inbox = settings().paths.inbox
    for drop in list_drops(inbox):
        state[drop] = {str(p.name): p.stat().st_mtime_ns for p in drop_files(inbox, drop)}
    return state


@sensor(
    name="inbox_sensor",
    job=nightly_job,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Requests a run of a drop's partition when new files land in inbox/<YYYY-MM-DD>/.",
)
def inbox_sensor(context: SensorEvaluationContext):
    seen = json.loads(context.cursor) if context.cursor else {}
    current = inbox_state()
    valid = set(drop_partitions.get_partition_keys())
    requests = []
    for drop, files in current.items():
        if not files or files == seen.get(drop) or drop not in valid:
            continue
        # Files already ingested by a run (the nightly job, a backfill, `make demo`) need no new run.
        if max(files.values()) <= last_ingest_ns(context, drop):
            continue
        digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:12]
        requests.append(RunRequest(run_key=f"inbox:{drop}:{digest}", partition_key=drop,
                                   tags={"anchormix/trigger": "inbox_sensor"}))
    if not requests:
        return SkipReason(f"no new files in {settings().paths.inbox}")
    return SensorResult(run_requests=requests, cursor=json.dumps(current, sort_keys=True))
