"""``dagster-daemon run`` for real: a file dropped into inbox/<date>/ becomes a successful run.

Setup (sandboxed config and DAGSTER_HOME): the demo inbox's night 1 is curated up to
semantic_dedup and the baseline pinned, so a later drop can run end to end. Night 2's files are
held outside the inbox and the schedule is stopped, so the sensor is the only thing that can
launch a run. Then the daemon starts and night 2's files are dropped into ``inbox/<night 2>/``.

Asserted, on the instance (``DagsterInstance.get()`` with DAGSTER_HOME set):
- the sensor launches exactly one nightly run, for night 2's partition, tagged by the sensor,
  and nothing for night 1 (its files were already ingested);
- the run reaches SUCCESS (dequeued by the daemon's QueuedRunCoordinator) with raw_records
  and curated_mix materialized for night 2, and generation 1 published on disk;
- after the run, later sensor ticks request nothing more.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ui"))
import dagster_harness as h  # noqa: E402

pytestmark = pytest.mark.slow

SENSOR_WAIT = 150  # minimum_interval is 30 s; the first tick also waits for the code server
RUN_TIMEOUT = 1200


def sensor_runs(instance):
    from dagster import RunsFilter

    return instance.get_runs(RunsFilter(job_name="nightly", tags={"anchormix/trigger": "inbox_sensor"}))


def test_daemon_sensor_turns_a_dropped_file_into_a_successful_run(tmp_path):
    sandbox = h.make_sandbox(tmp_path / "sandbox")
    built = h.build_inbox(sandbox)
    night1, night2 = built.drops
    inbox = sandbox.paths["inbox"]
    held = tmp_path / "held" / night2
    shutil.move(str(inbox / night2), str(held))
    h.prepare_baseline(sandbox, night1)
    h.stop_automation(sandbox, sensor=False, schedule=True)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(sandbox.dagster_home))
        from dagster import AssetKey, DagsterInstance, DagsterRunStatus

        instance = DagsterInstance.get()
        assert str(instance.root_directory) == str(sandbox.dagster_home)
        daemon = h.daemon(sandbox).start()
        try:
            # Let the sensor tick over the inbox as it is (night 1 only, already ingested): no run.
            deadline = time.monotonic() + SENSOR_WAIT
            while time.monotonic() < deadline and "inbox_sensor" not in daemon.tail(200_000):
                assert daemon.alive(), daemon.tail()
                time.sleep(2)
            time.sleep(5)
            assert sensor_runs(instance) == [], "the sensor launched a run for an already-ingested drop"

            # The drop lands.
            (inbox / night2).mkdir()
            for f in sorted(held.iterdir()):
                shutil.copy(f, inbox / night2 / f.name)

            deadline = time.monotonic() + SENSOR_WAIT
            while time.monotonic() < deadline and not sensor_runs(instance):
                assert daemon.alive(), daemon.tail()
                time.sleep(2)
            runs = sensor_runs(instance)
            assert len(runs) == 1, f"expected one sensor run, got {len(runs)}:\n{daemon.tail()}"
            run = runs[0]
            assert run.tags["dagster/partition"] == night2
            assert run.tags.get("dagster/sensor_name") == "inbox_sensor"

            deadline = time.monotonic() + RUN_TIMEOUT
            while time.monotonic() < deadline:
                run = instance.get_run_by_id(run.run_id)
                if run.is_finished:
                    break
                assert daemon.alive(), daemon.tail()
                time.sleep(3)
            assert run.status == DagsterRunStatus.SUCCESS, f"run {run.run_id} ended {run.status}:\n{daemon.tail()}"
            assert night2 in instance.get_materialized_partitions(AssetKey("raw_records"))
            assert night2 in instance.get_materialized_partitions(AssetKey("curated_mix"))
            assert sandbox.generations() == ["gen-000001"]

            # Later ticks (every 30 s) see the cursor and the ingest: no second run.
            time.sleep(40)
            assert [r.run_id for r in sensor_runs(instance)] == [run.run_id]
            assert len(instance.get_runs()) == 3  # night 1 up to semantic_dedup, pin_baseline, the sensor's run
        finally:
            daemon.stop()
