"""`anchormix files` and `anchormix retract`: a drop's file versions, and retracting one by hand."""

from __future__ import annotations

import inspect
import json

from anchormix.cli import main
from anchormix.readers import IngestSettings
from anchormix.stages.ingest import ingest_drop
from anchormix.store import connect_store, init_schema

DROP = "2026-11-05"


def test_retract_by_hand_moves_the_rows_and_files_lists_it(tmp_path, monkeypatch, capsys):
    config = tmp_path / "anchormix.toml"
    config.write_text('[paths]\ninbox = "inbox"\nstore = "store.duckdb"\nregistry = "sources.toml"\n')
    monkeypatch.setenv("ANCHORMIX_CONFIG", str(config))
    folder = tmp_path / "inbox" / DROP
    folder.mkdir(parents=True)
    texts = [inspect.getdoc(f) for f in (json.dumps, json.loads)]  # real human text
    path = folder / "docs.jsonl"
    path.write_text("".join(json.dumps({"id": f"d{i}", "url": f"https://docs.python.org/{i}", "source": "stdlib",
                                        "fetched_at": "2026-11-05T00:00:00+00:00", "text": t}) + "\n"
                            for i, t in enumerate(texts)))
    with connect_store(tmp_path / "store.duckdb") as con:
        init_schema(con)
        ingest_drop(con, tmp_path / "inbox", DROP, IngestSettings())
    assert main(["retract", DROP, str(path), "--reason", "licence withdrawn"]) == 0
    assert "retracted 2 records" in capsys.readouterr().out
    with connect_store(tmp_path / "store.duckdb", read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw_records").fetchone()[0] == 0
        reasons = {r[0] for r in con.execute("SELECT reason FROM retracted_records").fetchall()}
    assert reasons == {"retracted by hand: licence withdrawn"}
    assert main(["files", DROP]) == 0
    assert "retracted 2" in capsys.readouterr().out
    # Ingesting the unchanged file again does not bring the records back.
    with connect_store(tmp_path / "store.duckdb") as con:
        report = ingest_drop(con, tmp_path / "inbox", DROP, IngestSettings())
    assert report.loaded == 0
    assert main(["retract", DROP, str(path)]) == 1
