"""The gx_licenses gate: a license policy enforced by a blocking GX expectation on the candidate."""

from __future__ import annotations

import hashlib
import inspect
import json
import textwrap

import pytest

from anchormix.gate_checks import gx_licenses
from anchormix.gates import REQUIRED_GATES
from anchormix.provenance.classify import registry_value
from anchormix.provenance.licenses_kept import keep_licenses, relicense
from anchormix.stages.mix import candidate_frame
from anchormix.store_writes import insert_rows

DROP = "2026-11-02"
FP = "licensecandidate00000001"
COMMERCIAL = {"allowed_licenses": [], "denied_licenses": ["CC-BY-NC*", "CC-BY-ND*"]}
# source -> license it is registered under (None: not registered)
SOURCES = {"open-essays": "CC-BY-4.0", "lecture-notes": "CC-BY-NC-SA-4.0", "dual": "MIT OR CC-BY-NC-4.0",
           "unregistered": None}


def _texts() -> list[str]:
    # Real human text: standard-library docstrings.
    funcs = (json.dumps, json.loads, textwrap.wrap, textwrap.dedent, textwrap.indent, hashlib.new,
             inspect.getdoc, inspect.signature)
    return [inspect.getdoc(f) for f in funcs]


def _store_candidate(con) -> None:
    rows = []
    for i, text in enumerate(_texts()):
        source = list(SOURCES)[i % len(SOURCES)]
        rows.append({"id": f"doc-{i}", "source": source, "text": text})
    insert_rows(con, "raw_records", {"id": [r["id"] for r in rows], "drop": [DROP] * len(rows),
                                     "source": [r["source"] for r in rows], "text": [r["text"] for r in rows],
                                     "url": [f"https://docs.python.org/{i}" for i in range(len(rows))]})
    insert_rows(con, "normalized", {"id": [r["id"] for r in rows], "drop": [DROP] * len(rows),
                                    "norm_text": [r["text"] for r in rows],
                                    "content_hash": [hashlib.sha256(r["text"].encode()).hexdigest() for r in rows]})
    insert_rows(con, "provenance", {"id": [r["id"] for r in rows], "drop": [DROP] * len(rows),
                                    "class": ["human_presumed"] * len(rows)})
    registered = [r for r in rows if SOURCES[r["source"]] is not None]
    insert_rows(con, "evidence", {
        "id": [r["id"] for r in registered], "drop": [DROP] * len(registered), "signal": ["registry"] * len(registered),
        "value": [registry_value("licensed_human_archive", SOURCES[r["source"]], "high") for r in registered],
        "verdict": ["registered"] * len(registered), "ref": [r["source"] for r in registered]})
    insert_rows(con, "candidate_records", {"fingerprint": [FP] * len(rows), "id": [r["id"] for r in rows],
                                           "reason": ["human_fill"] * len(rows)})
    keep_licenses(con)  # what the provenance stage does once the evidence is written


def test_every_candidate_record_carries_its_source_license(con):
    _store_candidate(con)
    frame = candidate_frame(con, FP)
    got = dict(zip(frame["source"], frame["license"]))
    assert got == {s: lic or "NOASSERTION" for s, lic in SOURCES.items()}


def test_an_nc_source_is_blocked_under_a_commercial_policy_and_named(con):
    _store_candidate(con)
    outcome = gx_licenses(con, {"fingerprint": FP, "policy": COMMERCIAL})
    assert outcome.gate == "gx_licenses" and "gx_licenses" in REQUIRED_GATES
    assert outcome.passed is False
    failed = outcome.details["failures"]
    assert [f["expectation"] for f in failed] == ["expect_column_values_to_be_in_set"]
    # The failed GX expectation names the offending source, its license and the rule, in its own result.
    assert "lecture-notes (CC-BY-NC-SA-4.0)" in failed[0]["observed"]
    assert "lecture-notes (CC-BY-NC-SA-4.0)" in failed[0]["description"]
    assert "'CC-BY-NC*' in denied_licenses" in failed[0]["description"]
    expectation = next(r for r in outcome.gx_result["results"] if not r["success"])
    assert "lecture-notes" in expectation["expectation_config"]["description"]
    assert "lecture-notes" in outcome.description
    assert outcome.values["blocked_sources"] == ["lecture-notes"]
    # MIT OR CC-BY-NC-4.0 can be taken under MIT; an open license and unknown terms are not denied.
    assert not {"dual", "open-essays", "unregistered"} & set(outcome.values["blocked_sources"])


def test_without_a_policy_every_license_passes(con):
    _store_candidate(con)
    outcome = gx_licenses(con, {"fingerprint": FP, "policy": {}})
    assert outcome.passed is True
    assert set(outcome.tables["licenses"]["source"]) == set(SOURCES)


@pytest.mark.parametrize("policy, blocked", [
    ({"allowed_licenses": ["CC-BY-4.0", "MIT"]}, ["lecture-notes", "unregistered"]),
    ({"allowed_licenses": ["CC-BY-4.0", "NOASSERTION"]}, ["dual", "lecture-notes"]),
])
def test_an_allow_list_blocks_every_license_outside_it(con, policy, blocked):
    _store_candidate(con)
    outcome = gx_licenses(con, {"fingerprint": FP, "policy": policy})
    assert outcome.passed is False
    assert outcome.values["blocked_sources"] == blocked


def _registry_evidence_now_says(con, source, license):
    con.execute("UPDATE evidence SET value = ? WHERE ref = ? AND signal = 'registry'",
                [registry_value("licensed_human_archive", license, "high"), source])


def test_the_kept_license_survives_rewritten_evidence_and_only_relicense_changes_it(con, capsys, monkeypatch):
    _store_candidate(con)
    _registry_evidence_now_says(con, "open-essays", "CC-BY-NC-4.0")  # a relabel under an edited registry
    assert keep_licenses(con) == 0
    licenses = dict(zip(*[candidate_frame(con, FP)[c] for c in ("source", "license")]))
    assert licenses["open-essays"] == "CC-BY-4.0"
    # A license recorded by mistake is corrected deliberately, with a note of what it was.
    with pytest.raises(ValueError, match="SPDX"):
        relicense(con, "open-essays", "cc by 4")
    assert relicense(con, "open-essays", "cc0-1.0", reason="rights holder's letter") == {"CC-BY-4.0": 2}
    assert relicense(con, "unregistered", "MIT", drops=["1999-01-01"]) == {}
    frame = candidate_frame(con, FP)
    assert set(frame.loc[frame["source"] == "open-essays", "license"]) == {"CC0-1.0"}
    assert set(frame.loc[frame["source"] == "lecture-notes", "license"]) == {"CC-BY-NC-SA-4.0"}
    note = con.execute("SELECT DISTINCT note FROM record_licenses WHERE source = 'open-essays'").fetchall()
    assert note == [("relicensed by hand: rights holder's letter (was CC-BY-4.0)",)]


def test_relicense_cli_and_retraction_takes_the_kept_license_with_the_record(tmp_path, monkeypatch, capsys):
    import duckdb

    from anchormix.cli import main as cli_main
    from anchormix.stages.retract import retract_file
    from anchormix.store import init_schema

    store = tmp_path / "store.duckdb"
    with duckdb.connect(str(store)) as db:
        init_schema(db)
        _store_candidate(db)
    monkeypatch.setattr("anchormix.cli._settings", lambda: type("S", (), {"paths": type("P", (), {"store": store})}))
    assert cli_main(["relicense", "lecture-notes", "--license", "CC-BY-SA-4.0", "--drops", DROP,
                     "--reason", "the NC term was a typo"]) == 0
    out = capsys.readouterr().out
    assert "2 records of lecture-notes" in out and "CC-BY-NC-SA-4.0: 2" in out and "CC-BY-SA-4.0" in out
    assert cli_main(["relicense", "nobody", "--license", "MIT"]) == 1
    assert cli_main(["relicense", "lecture-notes", "--license", "not a license"]) == 2
    with duckdb.connect(str(store)) as db:
        assert set(candidate_frame(db, FP).query("source == 'lecture-notes'")["license"]) == {"CC-BY-SA-4.0"}
        db.execute("UPDATE raw_records SET file = 'a.jsonl'")
        retract_file(db, DROP, "a.jsonl", "a.jsonl", None, "withdrawn")
        assert db.execute("SELECT count(*) FROM record_licenses").fetchone()[0] == 0
