"""The nightly schedule: yesterday's drop, plus any inbox drop never ingested."""

from __future__ import annotations

from datetime import timedelta

from dagster import AssetKey, DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, schedule

from anchormix.stages.ingest import list_drops
from pipelines.jobs import nightly_job
from pipelines.partitions import drop_partitions
from pipelines.settings import settings


def partitions_to_run(context: ScheduleEvaluationContext) -> list[str]:
    """The night's partition and every drop folder with no raw_records materialization yet."""
    when = context.scheduled_execution_time
    yesterday = (when - timedelta(days=1)).strftime("%Y-%m-%d")
    done = context.instance.get_materialized_partitions(AssetKey("raw_records"))
    valid = set(drop_partitions.get_partition_keys(current_time=when))
    wanted = [d for d in list_drops(settings().paths.inbox) if d not in done and d in valid]
    if yesterday in valid and yesterday not in wanted:
        wanted.append(yesterday)
    return sorted(wanted)


@schedule(
    name="nightly_schedule",
    job=nightly_job,
    cron_schedule=settings().schedule.cron,
    execution_timezone=settings().schedule.timezone,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Every night (02:00 UTC by default, `[schedule] cron`): yesterday's drop and any missed drop.",
)
def nightly_schedule(context: ScheduleEvaluationContext):
    for partition in partitions_to_run(context):
        yield RunRequest(run_key=f"nightly:{partition}:{context.scheduled_execution_time:%Y%m%d}",
                         partition_key=partition, tags={"anchormix/trigger": "schedule"})
