"""A SIGKILL at any step of publish never yields two generations of one candidate.

Each case runs publish in a child process that kills itself (SIGKILL, no
cleanup) at one step: before the rename, after the rename, after LATEST moved,
in the middle of the store transaction, after the commit. The next publish, in
a fresh process as after a real crash, must leave the directories, LATEST and
the store in agreement, with the candidate published exactly once.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import subprocess
import sys
import textwrap

import duckdb
import pytest

from anchormix.gates import REQUIRED_GATES
from anchormix.publish.atomic import latest_generation, list_generations
from anchormix.store import init_schema

DROP = "2026-11-02"
FP = "crashcandidate000000000a"
STEPS = ["before_rename", "after_rename", "after_latest", "mid_commit", "after_commit"]

CHILD = textwrap.dedent('''
    import os, signal, sys
    import duckdb
    import anchormix.publish.atomic as atomic
    import anchormix.publish.reconcile as reconcile
    from anchormix.stages.publish import publish_drop

    store, root, step = sys.argv[1], sys.argv[2], sys.argv[3]

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    real_rename, real_latest, real_commit = os.rename, atomic._write_latest, reconcile.commit_publication

    def rename(src, dst):
        if step == "before_rename" and "gen-" in str(dst) and ".tmp" not in str(dst):
            die()
        real_rename(src, dst)
        if step == "after_rename" and "gen-" in str(dst) and ".tmp" not in str(dst):
            die()

    def write_latest(root_, generation, *rest):
        real_latest(root_, generation, *rest)
        if step == "after_latest":
            die()

    def commit(con, generation, fingerprint, drop, path, ids):
        if step == "mid_commit":
            con.execute("BEGIN TRANSACTION")
            con.execute("INSERT INTO publications (generation, fingerprint, drop, path, n_records) "
                        "VALUES (?, ?, ?, ?, ?)", [generation, fingerprint, drop, str(path), len(ids)])
            die()
        real_commit(con, generation, fingerprint, drop, path, ids)
        if step == "after_commit":
            die()

    atomic.os.rename = rename
    atomic._write_latest = write_latest
    reconcile.commit_publication = commit
    with duckdb.connect(store) as con:
        publish_drop(con, "%s", __import__("pathlib").Path(root))
''' % DROP)


def _texts() -> list[str]:
    # Real human text: standard-library docstrings.
    return [inspect.getdoc(f) for f in (json.dumps, json.loads, textwrap.wrap, textwrap.dedent)]


def _store_with_gated_candidate(path) -> None:
    with duckdb.connect(str(path)) as con:
        init_schema(con)
        for seq, text in enumerate(_texts(), start=1):
            rid = f"doc-{seq}"
            con.execute("INSERT INTO raw_records VALUES (?, ?, 'f.jsonl', ?, ?, ?, ?, 'stdlib', '{}', NULL, NULL, ?)",
                        [rid, DROP, seq, f"https://docs.python.org/{seq}", f"{DROP}T00:00:00+00:00", text, seq])
            con.execute("INSERT INTO normalized VALUES (?, ?, ?, ?, ?, ?)",
                        [rid, DROP, text, hashlib.sha256(text.encode()).hexdigest(), len(text), len(text.split())])
            con.execute("INSERT INTO provenance VALUES (?, ?, 'human_presumed', 'registered archive')", [rid, DROP])
            con.execute("INSERT INTO evidence VALUES (?, ?, 'registry', 'licensed_human_archive', 'registered', '')",
                        [rid, DROP])
            con.execute("INSERT INTO candidate_records VALUES (?, ?, 'human_fill')", [FP, rid])
        report = {"shares": {"human": 1.0, "synthetic": 0.0, "unknown": 0.0}, "diversity": {},
                  "per_source": [{"source": "stdlib", "available": 4, "selected": 4, "cap": None, "why": "all"}]}
        con.execute("INSERT INTO candidates (fingerprint, drop, policy, thresholds, watermark, n_records, feasible, "
                    "infeasible_reasons, report) VALUES (?, ?, '{}', '{}', 4, 4, true, '[]', ?)",
                    [FP, DROP, json.dumps(report)])
        con.execute("INSERT INTO record_states VALUES (?, 'selected', '', 4)", [FP])
        for gate in REQUIRED_GATES:
            con.execute("INSERT INTO gate_results (fingerprint, gate, passed, details) VALUES (?, ?, true, '{}')",
                        [FP, gate])


@pytest.mark.parametrize("step", STEPS)
def test_a_kill_at_any_publish_step_never_publishes_a_candidate_twice(tmp_path, step):
    store, root = tmp_path / "store.duckdb", tmp_path / "published"
    _store_with_gated_candidate(store)
    killed = subprocess.run([sys.executable, "-c", CHILD, str(store), str(root), step], capture_output=True)
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]

    from anchormix.stages.publish import publish_drop

    with duckdb.connect(str(store)) as con:
        again = publish_drop(con, DROP, root)
        rows = con.execute("SELECT generation, fingerprint FROM publications ORDER BY generation").fetchall()
        ids = con.execute("SELECT count(*) FROM published_records").fetchone()[0]
    assert rows == [(1, FP)], rows
    assert again["generation"] == 1
    assert ids == 4
    assert list_generations(root) == [1]
    assert latest_generation(root) == 1
    manifest = json.loads((root / "gen-000001" / "manifest.json").read_text())
    assert manifest["fingerprint"] == FP


def test_an_unknown_generation_directory_is_set_aside_not_deleted(tmp_path):
    from anchormix.publish.reconcile import reconcile

    store, root = tmp_path / "store.duckdb", tmp_path / "published"
    _store_with_gated_candidate(store)
    (root / "gen-000007").mkdir(parents=True)
    (root / "gen-000007" / "manifest.json").write_text(json.dumps({"fingerprint": "someone-else", "generation": 7}))
    with duckdb.connect(str(store)) as con:
        done = reconcile(con, root)
    assert not (root / "gen-000007").exists()
    assert len(done["set_aside"]) == 1 and list(root.glob(".orphan-gen-000007-*"))
