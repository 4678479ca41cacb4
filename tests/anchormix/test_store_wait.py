"""A second writer or a read command waits for the store instead of failing at once on DuckDB's lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from anchormix.store import StoreBusy, connect_store, init_schema

HOLDER = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("CREATE TABLE IF NOT EXISTS runs (who VARCHAR)")
    con.execute("INSERT INTO runs VALUES ('first')")
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
    con.close()
""")


def _hold(path, seconds):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_a_second_run_waits_for_the_first_then_succeeds(tmp_path):
    path = tmp_path / "store.duckdb"
    first = _hold(path, 3)
    started = time.monotonic()
    with connect_store(path, timeout_s=60, poll_s=0.2) as con:
        waited = time.monotonic() - started
        init_schema(con)
        con.execute("INSERT INTO runs VALUES ('second')")
        assert [r[0] for r in con.execute("SELECT who FROM runs ORDER BY who").fetchall()] == ["first", "second"]
    first.wait(timeout=30)
    assert waited >= 1.0, "the second run did not wait for the first"


def test_a_read_command_waits_too_and_opens_read_only(tmp_path):
    import duckdb

    path = tmp_path / "store.duckdb"
    first = _hold(path, 2)
    with connect_store(path, read_only=True, timeout_s=60, poll_s=0.2) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
        with pytest.raises(duckdb.Error):
            con.execute("INSERT INTO runs VALUES ('reader')")
    first.wait(timeout=30)


def test_a_store_held_past_the_timeout_fails_with_a_clear_message(tmp_path):
    path = tmp_path / "store.duckdb"
    first = _hold(path, 10)
    try:
        with pytest.raises(StoreBusy, match=r"in use by another process .*waited 1 s.*ANCHORMIX_STORE_TIMEOUT"):
            connect_store(path, timeout_s=1, poll_s=0.2)
    finally:
        first.kill()
        first.wait()
