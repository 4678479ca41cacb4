"""The tail probe set inside a generation: its own file and Croissant record set, never in the shards."""

from __future__ import annotations

import hashlib
import inspect
import json
import textwrap

import pandas as pd
import pytest

from anchormix.publish.atomic import PublishVerificationError, list_generations, publish_generation


def _probes(n: int = 3) -> pd.DataFrame:
    # Real human text: standard-library docstrings.
    texts = [inspect.getdoc(f) for f in (json.dumps, json.loads, textwrap.wrap, textwrap.dedent, hashlib.new)][:n]
    return pd.DataFrame({
        "id": [f"probe-{i}" for i in range(n)], "text": texts, "source": "python-stdlib",
        "provenance_class": "human_verified", "content_hash": [hashlib.sha256(t.encode()).hexdigest() for t in texts],
        "drop": "2026-11-02", "url": [f"https://docs.python.org/{i}" for i in range(n)], "license": "PSF-2.0",
        "cluster": [7, 7, 11][:n], "cluster_label": ["json · encoder · decode"] * 2 + ["wrap · lines · width"],
    })


def test_the_probe_set_is_its_own_file_and_croissant_record_set(tmp_path, make_records):
    import mlcroissant as mlc

    records, probes = make_records(12), _probes()
    gen = publish_generation(tmp_path, 1, records, manifest={}, card_markdown="# card", probes=probes)
    manifest = json.loads((gen / "manifest.json").read_text())
    entry = manifest["probes"]
    assert entry["path"] == "probes/probes.parquet" and entry["n_records"] == 3
    assert entry["sha256"] == hashlib.sha256((gen / entry["path"]).read_bytes()).hexdigest()
    assert {c["cluster"]: c["n_records"] for c in entry["clusters"]} == {7: 2, 11: 1}
    ds = mlc.Dataset(jsonld=str(gen / "croissant.json"))
    rows = list(ds.records(record_set="tail_probes"))
    assert sorted(r["tail_probes/id"].decode() for r in rows) == list(probes["id"])
    assert {r["tail_probes/cluster_label"].decode() for r in rows} == set(probes["cluster_label"])
    assert len(list(ds.records(record_set="records"))) == 12


def test_a_generation_whose_shards_hold_a_probe_is_refused(tmp_path, make_records):
    records = make_records(6)
    leaked = _probes()
    leaked.loc[0, "content_hash"] = records.loc[2, "content_hash"]  # the same text under another id
    with pytest.raises(PublishVerificationError, match="probe ids or content hashes"):
        publish_generation(tmp_path, 1, records, manifest={}, card_markdown="# card", probes=leaked)
    assert list_generations(tmp_path) == []
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]
