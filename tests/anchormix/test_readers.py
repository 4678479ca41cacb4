"""Every kind of malformed row is quarantined with file, line and reason; good rows still load."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from anchormix.readers import IngestSettings, load_file


def _row(i: int, text: str) -> dict:
    return {"id": f"r{i}", "url": f"https://example.org/{i}", "fetched_at": "2026-11-01T00:00:00+00:00",
            "text": text, "source": "python-stdlib"}


@pytest.fixture
def rows(human_texts):
    return [_row(i, t) for i, t in enumerate(human_texts[:12])]


def test_each_malformed_kind_is_quarantined_with_its_reason(tmp_path, rows):
    lines = [
        json.dumps(rows[0]).encode(),                                      # 1 good
        json.dumps(rows[1])[:-5].encode(),                                 # 2 bad json
        json.dumps({k: v for k, v in rows[2].items() if k != "text"}).encode(),  # 3 missing field
        json.dumps({**rows[3], "fetched_at": 5}).encode(),                 # 4 wrong type
        json.dumps(rows[4]).encode().replace(b'"text": "', b'"text": "\xff', 1),  # 5 invalid utf-8
        json.dumps({**rows[5], "text": rows[5]["text"] * 50}).encode(),    # 6 oversized
        json.dumps({**rows[6], "fetched_at": "yesterday"}).encode(),       # 7 bad timestamp
        b"[1, 2]",                                                          # 8 not an object
        json.dumps({**rows[7], "text": "   "}).encode(),                   # 9 empty text
        json.dumps(rows[8]).encode(),                                      # 10 good
    ]
    path = tmp_path / "drop.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    limit = len(rows[5]["text"].encode()) * 10
    good, bad = load_file(path, IngestSettings(max_text_bytes=limit, max_line_bytes=limit * 10))
    assert [line for line, _ in good] == [1, 10]
    reasons = {q.line: q.reason.split(":")[0] for q in bad}
    assert reasons == {2: "bad_json", 3: "missing_field", 4: "wrong_type", 5: "invalid_utf8",
                       6: "oversized_text", 7: "bad_timestamp", 8: "not_an_object", 9: "empty_field"}
    assert all(q.file == str(path) for q in bad)
    assert next(q for q in bad if q.line == 3).reason == "missing_field: text"
    assert next(q for q in bad if q.line == 4).record_id == "r3"


def test_gzip_parquet_and_csv_read_the_same_records(tmp_path, rows):
    gz = tmp_path / "a.jsonl.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows[:4])
    parquet = tmp_path / "a.parquet"
    pq.write_table(pa.Table.from_pylist(rows[:4]), parquet)
    csv_path = tmp_path / "a.csv"
    import csv

    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows[:4])
    settings = IngestSettings()
    loaded = {p.suffix: load_file(p, settings) for p in (gz, parquet, csv_path)}
    for suffix, (good, bad) in loaded.items():
        assert not bad, suffix
        assert [r.id for _, r in good] == ["r0", "r1", "r2", "r3"], suffix
        assert [r.text for _, r in good] == [r["text"] for r in rows[:4]], suffix


def test_csv_lines_point_at_physical_lines_with_multiline_cells(tmp_path, rows):
    import csv

    path = tmp_path / "m.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        multi = {**rows[0], "text": rows[0]["text"] + "\n\n" + rows[1]["text"]}
        writer.writerow(multi)
        writer.writerow({**rows[2], "fetched_at": ""})
    good, bad = load_file(path, IngestSettings())
    assert good[0][0] == 2
    physical = path.read_text().count("\n", 0, path.read_text().index(rows[2]["id"] + ","))
    assert bad[0].line == physical + 1
    assert bad[0].reason == "missing_field: fetched_at"


def test_truncated_gzip_keeps_the_rows_before_the_damage(tmp_path, rows):
    path = tmp_path / "t.jsonl.gz"
    data = gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode())
    path.write_bytes(data[: len(data) // 2])
    good, bad = load_file(path, IngestSettings())
    assert bad and bad[-1].reason.startswith("truncated_file")
    assert good and all(r.id.startswith("r") for _, r in good)
