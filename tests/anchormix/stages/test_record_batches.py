"""Per-record stages are pure batch transforms: the batch size changes nothing, and a re-run replaces."""

from __future__ import annotations

import json

from anchormix.quality import QualitySettings
from anchormix.readers import IngestSettings
from anchormix.stages.dedup import dedup_drop
from anchormix.dedup.near import NearDedupSettings
from anchormix.stages.ingest import ingest_drop
from anchormix.stages.normalize import NORMALIZE
from anchormix.stages.quality import QUALITY, quality_drop
from anchormix.stages.record_batches import run_local


def _inbox(tmp_path, texts):
    rows = [{"id": f"r{i}", "url": f"https://example.org/{i}", "fetched_at": "2026-11-01T00:00:00Z",
             "text": t, "source": "python-stdlib"} for i, t in enumerate(texts)]
    (tmp_path / "2026-11-01").mkdir()
    (tmp_path / "2026-11-01" / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _table(con, name):
    return con.execute(f"SELECT * EXCLUDE (drop) FROM {name} ORDER BY id").fetchall()


def test_batch_size_does_not_change_the_rows_and_a_rerun_replaces(tmp_path, con, human_texts):
    _inbox(tmp_path, human_texts[:40] + ["  " + human_texts[0].upper() + "  ", ""])
    ingest_drop(con, tmp_path, "2026-11-01", IngestSettings())
    whole = run_local(con, NORMALIZE, "2026-11-01")
    normalized = _table(con, "normalized")
    one_by_one = run_local(con, NORMALIZE, "2026-11-01", batch_rows=1)
    assert one_by_one.num_rows == whole.num_rows == len(normalized) == con.execute(
        "SELECT count(*) FROM raw_records").fetchone()[0]
    assert _table(con, "normalized") == normalized  # replaced, not appended

    dedup_drop(con, "2026-11-01", NearDedupSettings())
    summary = quality_drop(con, "2026-11-01", QualitySettings())
    scored = _table(con, "quality")
    run_local(con, QUALITY, "2026-11-01", QualitySettings(), batch_rows=7)
    assert _table(con, "quality") == scored
    assert summary["scored"] == len(scored) and summary["passed"] == sum(1 for r in scored if r[2])
    # Every failed rule is counted once under its name.
    assert sum(summary["reasons"].values()) == sum(len(r[3].split(";")) for r in scored if r[3])


def test_an_unread_result_on_the_connection_does_not_block_the_transform(tmp_path, con, human_texts):
    # Re-ingesting a drop (the runner's run_drop after curate_drop) leaves ingest's last fetchone() unread.
    _inbox(tmp_path, human_texts[:5])
    ingest_drop(con, tmp_path, "2026-11-01", IngestSettings())
    con.execute("SELECT id FROM raw_records").fetchone()
    assert run_local(con, NORMALIZE, "2026-11-01").num_rows == 5
