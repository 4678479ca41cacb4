"""Atomic, numbered publication: generations are kept, failures leave no trace."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from anchormix.publish import atomic
from anchormix.publish.atomic import (
    latest_generation,
    list_generations,
    next_generation,
    publish_generation,
    remove_stale_temp_dirs,
)


def publish(root, generation, records, **kw):
    kw.setdefault("manifest", {"fingerprint": f"fp-{generation}", "policy": {"human_floor": 0.5}})
    kw.setdefault("card_markdown", f"# generation {generation}\n\n![shares](plots/shares.png)\n")
    kw.setdefault("plots", {"shares.png": b"\x89PNG-placeholder"})
    return publish_generation(root, generation, records, **kw)


def snapshot(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def temp_dirs(root):
    return [p for p in root.iterdir() if p.name.startswith(".tmp")]


def test_empty_root_has_no_generations(tmp_path):
    assert list_generations(tmp_path) == []
    assert latest_generation(tmp_path) is None
    assert next_generation(tmp_path) == 1
    assert list_generations(tmp_path / "missing") == []


def test_publish_writes_a_complete_generation(tmp_path, make_records):
    records = make_records(12)
    gen_dir = publish(tmp_path, 1, records, shard_rows=5)
    assert gen_dir == tmp_path / "gen-000001"
    assert sorted(p.name for p in (gen_dir / "data").iterdir()) == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    back = pd.concat([pq.read_table(p).to_pandas() for p in sorted((gen_dir / "data").glob("*.parquet"))])
    pd.testing.assert_frame_equal(back.reset_index(drop=True), records)
    manifest = json.loads((gen_dir / "manifest.json").read_text())
    assert manifest["generation"] == 1 and manifest["n_records"] == 12
    assert manifest["fingerprint"] == "fp-1" and manifest["policy"] == {"human_floor": 0.5}
    assert manifest["records"][0] == {
        "id": records.loc[0, "id"],
        "content_hash": records.loc[0, "content_hash"],
        "source": records.loc[0, "source"],
        "provenance_class": records.loc[0, "provenance_class"],
        "license": records.loc[0, "license"],
    }
    assert [s["n_rows"] for s in manifest["shards"]] == [5, 5, 2]
    assert (gen_dir / "README.md").read_text().startswith("# generation 1")
    assert (gen_dir / "plots" / "shares.png").read_bytes() == b"\x89PNG-placeholder"
    assert (tmp_path / "LATEST").read_text().strip() == "gen-000001"
    assert latest_generation(tmp_path) == 1
    assert temp_dirs(tmp_path) == []


def test_generations_are_numbered_and_kept(tmp_path, make_records):
    first = publish(tmp_path, 1, make_records(4))
    first_files = snapshot(first)
    publish(tmp_path, next_generation(tmp_path), make_records(6, start=100))
    publish(tmp_path, next_generation(tmp_path), make_records(8, start=200))
    assert list_generations(tmp_path) == [1, 2, 3]
    assert latest_generation(tmp_path) == 3
    assert snapshot(first) == first_files  # earlier generations are never touched
    assert json.loads((tmp_path / "gen-000002" / "manifest.json").read_text())["n_records"] == 6


def test_refuses_to_overwrite_or_go_backwards(tmp_path, make_records):
    publish(tmp_path, 1, make_records(3))
    publish(tmp_path, 2, make_records(3, start=10))
    before = snapshot(tmp_path)
    with pytest.raises(FileExistsError):
        publish(tmp_path, 2, make_records(3, start=20))
    assert snapshot(tmp_path) == before
    (tmp_path / "gen-000001").rename(tmp_path / "moved-away")  # a gap must not allow going back
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match="not above"):
        publish(tmp_path, 1, make_records(3, start=20))
    assert snapshot(tmp_path) == before
    assert temp_dirs(tmp_path) == []


def test_failure_mid_write_leaves_previous_generation_and_latest_intact(tmp_path, monkeypatch, make_records):
    publish(tmp_path, 1, make_records(10))
    before = snapshot(tmp_path)
    real_write = atomic.write_shard
    calls = []

    def write_one_then_fail(table, path):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full (injected)")
        real_write(table, path)

    monkeypatch.setattr(atomic, "write_shard", write_one_then_fail)
    with pytest.raises(OSError, match="injected"):
        publish(tmp_path, 2, make_records(30, start=100), shard_rows=10)
    assert len(calls) == 2  # one shard was really written before the failure
    assert snapshot(tmp_path) == before
    assert list_generations(tmp_path) == [1]
    assert latest_generation(tmp_path) == 1
    assert temp_dirs(tmp_path) == []
    monkeypatch.setattr(atomic, "write_shard", real_write)
    assert publish(tmp_path, 2, make_records(30, start=100)).name == "gen-000002"


def test_failed_verification_publishes_nothing(tmp_path, monkeypatch, make_records):
    publish(tmp_path, 1, make_records(5))
    before = snapshot(tmp_path)
    real_write = atomic.write_shard

    def drop_last_row(table, path):
        real_write(table.slice(0, table.num_rows - 1), path)

    monkeypatch.setattr(atomic, "write_shard", drop_last_row)
    with pytest.raises(atomic.PublishVerificationError):
        publish(tmp_path, 2, make_records(5, start=50))
    assert snapshot(tmp_path) == before
    assert temp_dirs(tmp_path) == []


def test_failure_updating_latest_undoes_the_rename(tmp_path, monkeypatch, make_records):
    publish(tmp_path, 1, make_records(5))
    before = snapshot(tmp_path)

    def fail(root, generation, *rest):
        raise OSError("cannot write LATEST (injected)")

    monkeypatch.setattr(atomic, "_write_latest", fail)
    with pytest.raises(OSError, match="LATEST"):
        publish(tmp_path, 2, make_records(5, start=50))
    assert snapshot(tmp_path) == before
    assert list_generations(tmp_path) == [1]
    assert temp_dirs(tmp_path) == []


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda r: r.drop(columns=["content_hash"]), "missing columns"),
        (lambda r: pd.concat([r, r.iloc[:1]]), "duplicate ids"),
        (lambda r: r.iloc[:0], "empty"),
    ],
)
def test_bad_records_are_refused_before_writing(tmp_path, mutate, message, make_records):
    with pytest.raises(ValueError, match=message):
        publish(tmp_path, 1, mutate(make_records(4)))
    assert list(tmp_path.iterdir()) == []


def test_reserved_manifest_keys_and_bad_plot_names_are_refused(tmp_path, make_records):
    with pytest.raises(ValueError, match="reserved"):
        publish(tmp_path, 1, make_records(3), manifest={"records": []})
    with pytest.raises(ValueError, match="reserved"):
        publish(tmp_path, 1, make_records(3), manifest={"generation": 2})
    with pytest.raises(ValueError, match="plot name"):
        publish(tmp_path, 1, make_records(3), plots={"../escape.png": b""})
    assert list_generations(tmp_path) == [] and temp_dirs(tmp_path) == []


def test_remove_stale_temp_dirs_only_removes_old_ones(tmp_path):
    import os

    old = tmp_path / ".tmp-gen-000004-abc"
    old.mkdir()
    os.utime(old, (0, 0))
    fresh = tmp_path / ".tmp-gen-000005-def"
    fresh.mkdir()
    assert remove_stale_temp_dirs(tmp_path) == [old]
    assert fresh.exists() and not old.exists()


def test_manifest_may_echo_the_same_generation(tmp_path, make_records):
    gen_dir = publish(tmp_path, 1, make_records(3), manifest={"generation": 1, "drop": "2026-11-02"})
    manifest = json.loads((gen_dir / "manifest.json").read_text())
    assert manifest["generation"] == 1 and manifest["drop"] == "2026-11-02"


@pytest.mark.parametrize("group_readable, dir_mode, file_mode", [(True, 0o750, 0o640), (False, 0o700, 0o600)])
def test_generation_modes_follow_group_readable(tmp_path, make_records, group_readable, dir_mode, file_mode):
    import stat

    path = publish_generation(tmp_path, 1, make_records(5), manifest={}, card_markdown="# card\n",
                              group_readable=group_readable)
    assert stat.S_IMODE(path.stat().st_mode) == dir_mode
    files = [p for p in path.rglob("*") if p.is_file()]
    assert files and {stat.S_IMODE(p.stat().st_mode) for p in files} == {file_mode}
    assert stat.S_IMODE((tmp_path / "LATEST").stat().st_mode) == file_mode
