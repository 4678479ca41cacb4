"""Ingest is idempotent, ids stay unique, exact duplicates point at their original across drops."""

from __future__ import annotations

import json

from anchormix.dedup.exact import exact_duplicates
from anchormix.readers import IngestSettings
from anchormix.stages.ingest import ingest_drop, list_drops
from anchormix.stages.normalize import normalize_drop


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _row(rid, text):
    return {"id": rid, "url": "https://example.org/" + rid, "fetched_at": "2026-11-01T00:00:00Z",
            "text": text, "source": "python-stdlib"}


def test_reingesting_the_same_inbox_adds_nothing(tmp_path, con, human_texts):
    _write(tmp_path / "2026-11-01" / "a.jsonl", [_row(f"a{i}", t) for i, t in enumerate(human_texts[:5])])
    first = ingest_drop(con, tmp_path, "2026-11-01", IngestSettings())
    second = ingest_drop(con, tmp_path, "2026-11-01", IngestSettings())
    assert first.loaded == 5 and second.loaded == 0 and second.quarantined == 0
    assert len(second.files_skipped) == 1
    # The same bytes under another name in another drop add nothing either.
    (tmp_path / "2026-11-02").mkdir()
    (tmp_path / "2026-11-02" / "copy.jsonl").write_bytes((tmp_path / "2026-11-01" / "a.jsonl").read_bytes())
    third = ingest_drop(con, tmp_path, "2026-11-02", IngestSettings())
    assert third.loaded == 0
    assert con.execute("SELECT count(*) FROM raw_records").fetchone()[0] == 5
    assert list_drops(tmp_path) == ["2026-11-01", "2026-11-02"]


def test_a_known_id_is_quarantined_not_overwritten(tmp_path, con, human_texts):
    _write(tmp_path / "2026-11-01" / "a.jsonl", [_row("x1", human_texts[0])])
    _write(tmp_path / "2026-11-02" / "b.jsonl", [_row("x1", human_texts[1])])
    ingest_drop(con, tmp_path, "2026-11-01", IngestSettings())
    report = ingest_drop(con, tmp_path, "2026-11-02", IngestSettings())
    assert report.reasons == {"duplicate_id": 1}
    assert con.execute("SELECT text FROM raw_records WHERE id = 'x1'").fetchone()[0] == human_texts[0]
    assert con.execute("SELECT line, reason FROM quarantine").fetchone()[0] == 1


def test_exact_duplicates_across_drops_point_at_the_first_record(tmp_path, con, human_texts):
    text = human_texts[3]
    _write(tmp_path / "2026-11-01" / "a.jsonl", [_row("orig", text), _row("other", human_texts[4])])
    # Same text after normalization: extra spaces and a Windows line ending.
    _write(tmp_path / "2026-11-02" / "b.jsonl", [_row("copy", "  " + text.replace(" ", "  ") + "\r\n")])
    for drop in ("2026-11-01", "2026-11-02"):
        ingest_drop(con, tmp_path, drop, IngestSettings())
        normalize_drop(con, drop)
    assert exact_duplicates(con, "2026-11-01") == []
    assert exact_duplicates(con, "2026-11-02") == [("copy", "orig")]
