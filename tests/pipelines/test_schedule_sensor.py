"""The nightly schedule and the inbox sensor, evaluated tick by tick (no daemon).

Both read only ``settings().paths.inbox`` and the instance's raw_records
materializations, so each test points them at its own inbox and a temporary
test instance.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from dagster import AssetMaterialization, build_schedule_context, build_sensor_context, instance_for_test

import pipelines.schedules
from pipelines.definitions import defs
import pipelines.sensors
from pipelines.schedules import nightly_schedule
from pipelines.sensors import inbox_sensor

REPO = defs.get_repository_def()


@pytest.fixture
def inbox(tmp_path, monkeypatch):
    folder = tmp_path / "inbox"
    folder.mkdir()
    stand_in = SimpleNamespace(paths=SimpleNamespace(inbox=folder))
    monkeypatch.setattr(pipelines.schedules, "settings", lambda: stand_in)
    monkeypatch.setattr(pipelines.sensors, "settings", lambda: stand_in)
    return folder


@pytest.fixture
def instance():
    with instance_for_test() as inst:
        yield inst


def drop_file(inbox, drop: str, name: str = "scrape.jsonl"):
    path = inbox / drop / name
    path.parent.mkdir(parents=True, exist_ok=True)
    row = {"id": f"{drop}-{name}", "url": "https://example.org", "fetched_at": f"{drop}T01:00:00+00:00",
           "text": "a short human sentence that is long enough to keep", "source": "web-crawl"}
    path.write_text(json.dumps(row) + "\n")
    return path


def ingested(instance, drop: str):
    """What a run that ingested ``drop`` leaves behind: a raw_records materialization of its partition."""
    instance.report_runless_asset_event(AssetMaterialization("raw_records", partition=drop))


def test_schedule_requests_yesterday_and_every_unprocessed_drop(inbox, instance):
    when = datetime(2026, 3, 10, 2, 0, tzinfo=timezone.utc)
    drop_file(inbox, "2026-03-01")  # missed: never ingested
    drop_file(inbox, "2026-03-02")  # already ingested
    ingested(instance, "2026-03-02")
    drop_file(inbox, "2026-03-25")  # not a partition yet at 2026-03-10
    (inbox / "not-a-drop").mkdir()

    context = build_schedule_context(instance=instance, scheduled_execution_time=when, repository_def=REPO)
    requests = nightly_schedule.evaluate_tick(context).run_requests

    assert [r.partition_key for r in requests] == ["2026-03-01", "2026-03-09"]
    assert all(r.tags["anchormix/trigger"] == "schedule" for r in requests)
    # One run key per partition and night: the same night's tick never launches a partition twice.
    assert len({r.run_key for r in requests}) == 2
    assert all(r.run_key.endswith(":20260310") for r in requests)


def test_schedule_requests_only_yesterday_when_every_drop_was_ingested(inbox, instance):
    when = datetime(2026, 3, 10, 2, 0, tzinfo=timezone.utc)
    drop_file(inbox, "2026-03-09")
    ingested(instance, "2026-03-09")
    context = build_schedule_context(instance=instance, scheduled_execution_time=when, repository_def=REPO)
    requests = nightly_schedule.evaluate_tick(context).run_requests
    # Yesterday is always requested (a re-run of an ingested drop adds nothing and embeds nothing).
    assert [r.partition_key for r in requests] == ["2026-03-09"]


def _tick(instance, cursor=None):
    data = inbox_sensor.evaluate_tick(build_sensor_context(instance=instance, cursor=cursor, repository_def=REPO))
    return data.run_requests or [], data.cursor, data.skip_message


def test_sensor_requests_a_run_for_a_new_drop_file_and_nothing_on_the_next_tick(inbox, instance):
    drop = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%d")
    assert _tick(instance)[0] == []  # empty inbox

    drop_file(inbox, drop)
    requests, cursor, _ = _tick(instance)
    assert [r.partition_key for r in requests] == [drop]
    assert requests[0].tags["anchormix/trigger"] == "inbox_sensor"
    assert drop in json.loads(cursor)

    again, cursor2, skip = _tick(instance, cursor)
    assert again == [] and skip and "no new files" in skip
    assert cursor2 in (None, cursor)

    # Another file landing in the same drop is a new request, with a new run key.
    time.sleep(0.01)
    drop_file(inbox, drop, "late.jsonl")
    more, _, _ = _tick(instance, cursor)
    assert [r.partition_key for r in more] == [drop]
    assert more[0].run_key != requests[0].run_key


def test_sensor_skips_a_drop_a_run_already_ingested(inbox, instance):
    drop = (datetime.now(timezone.utc) - timedelta(days=2)).strftime("%Y-%m-%d")
    path = drop_file(inbox, drop)
    past = time.time() - 60
    os.utime(path, (past, past))
    ingested(instance, drop)
    requests, _, skip = _tick(instance)
    assert requests == [] and "no new files" in skip


def test_sensor_ignores_folders_that_are_not_partitions(inbox, instance):
    future = (datetime.now(timezone.utc) + timedelta(days=30)).strftime("%Y-%m-%d")
    drop_file(inbox, future)
    drop_file(inbox, "2025-12-31")  # before the partitions' start date
    assert _tick(instance)[0] == []
