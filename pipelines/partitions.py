"""Inbox drops map to daily partitions: `inbox/YYYY-MM-DD/` is partition `YYYY-MM-DD`.

Daily partitions (rather than dynamic ones) make the nightly schedule, backfills
over past days and the sensor agree on one key without extra bookkeeping; the
cumulative stages (dedup history, mix, publish) read every drop up to and
including their partition from the store. ``end_offset=1`` lets today's drop run
as soon as its files land.
"""

from __future__ import annotations

from dagster import DailyPartitionsDefinition

from pipelines.settings import settings

drop_partitions = DailyPartitionsDefinition(
    start_date=settings().schedule.start_date,
    timezone=settings().schedule.timezone,
    end_offset=1,
)
