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
