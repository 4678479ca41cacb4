"""The Croissant metadata loads, validates and iterates with mlcroissant."""

from __future__ import annotations

import json

import mlcroissant as mlc
import pytest

from anchormix.publish.atomic import publish_generation
from anchormix.publish.croissant import CONFORMS_TO, CroissantInvalid, build_croissant, validate_croissant
from anchormix.publish.layout import RECORD_FIELDS


def test_published_croissant_validates_and_iterates_records(tmp_path, make_records):
    records = make_records(23)
    gen_dir = publish_generation(tmp_path, 1, records, manifest={}, card_markdown="# card", shard_rows=10)
    doc = json.loads((gen_dir / "croissant.json").read_text())
    assert doc["conformsTo"] == CONFORMS_TO
    assert doc["@context"]["cr"] == "http://mlcommons.org/croissant/"
    shard_objects = [d for d in doc["distribution"] if d["@type"] == "cr:FileObject"]
    assert [d["contentUrl"] for d in shard_objects] == [
        "data/part-00000.parquet",
        "data/part-00001.parquet",
        "data/part-00002.parquet",
    ]
    assert all(d["encodingFormat"] == "application/x-parquet" and len(d["sha256"]) == 64 for d in shard_objects)

    ds = mlc.Dataset(jsonld=str(gen_dir / "croissant.json"))
    rows = list(ds.records(record_set="records"))
    assert len(rows) == len(records)
    got = {
        r["records/id"].decode(): (r["records/provenance_class"].decode(), r["records/content_hash"].decode())
        for r in rows
    }
    want = {r.id: (r.provenance_class, r.content_hash) for r in records.itertuples()}
    assert got == want
    assert set(k.split("/", 1)[1] for k in rows[0]) == set(RECORD_FIELDS) | {"license"}
    assert {r["records/id"].decode(): r["records/license"].decode() for r in rows} == dict(
        zip(records["id"], records["license"]))
    assert sorted(doc["license"]) == sorted(set(records["license"]))  # each source's SPDX license, not "mixed"


def test_attribution_record_set_loads_and_reads_with_mlcroissant(tmp_path, make_records):
    from anchormix.provenance.registry import Registry
    from anchormix.publish.attribution import attribution_table

    records = make_records(10)
    registry = Registry.model_validate({"sources": {
        "source-0": {"kind": "licensed_human_archive", "license": "CC-BY-4.0", "trust_tier": "high",
                     "rights_holder": "Holder Zero", "creator": "Zero contributors"},
        "source-1": {"kind": "web_crawl", "license": "MIT OR Apache-2.0", "trust_tier": "medium"},
    }})
    table = attribution_table(records, registry)
    gen_dir = publish_generation(tmp_path, 1, records, manifest={}, card_markdown="# card", attribution=table)

    ds = mlc.Dataset(jsonld=str(gen_dir / "croissant.json"))
    rows = {r["attribution/source"]: r for r in ds.records(record_set="attribution")}
    assert set(rows) == {"source-0", "source-1", "source-2"}
    assert rows["source-0"]["attribution/license"] == "CC-BY-4.0"
    assert rows["source-0"]["attribution/rights_holder"] == "Holder Zero"
    assert rows["source-0"]["attribution/creator"] == "Zero contributors"
    assert rows["source-2"]["attribution/rights_holder"] == ""  # not registered: nothing to credit but the license
    assert {s: int(r["attribution/records"]) for s, r in rows.items()} == records["source"].value_counts().to_dict()
    manifest = json.loads((gen_dir / "manifest.json").read_text())
    assert manifest["attribution"] == table.to_dict(orient="records")
    assert {r["id"]: r["license"] for r in manifest["records"]} == dict(zip(records["id"], records["license"]))


def test_shard_hashes_match_files(tmp_path, make_records):
    import hashlib

    gen_dir = publish_generation(tmp_path, 1, make_records(5), manifest={}, card_markdown="# card")
    doc = json.loads((gen_dir / "croissant.json").read_text())
    for d in doc["distribution"]:
        if d["@type"] == "cr:FileObject":
            assert hashlib.sha256((gen_dir / d["contentUrl"]).read_bytes()).hexdigest() == d["sha256"]


def test_validate_croissant_rejects_broken_metadata(tmp_path):
    doc = build_croissant("x", "d", "CC0-1.0", 1, [("data/part-00000.parquet", "0" * 64)], ["id", "text"])
    del doc["distribution"][0]["sha256"]  # a FileObject needs a checksum
    path = tmp_path / "croissant.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(CroissantInvalid):
        validate_croissant(path)


def test_build_croissant_requires_the_key_field():
    with pytest.raises(ValueError, match="'id'"):
        build_croissant("x", "d", "CC0-1.0", 1, [("data/part-00000.parquet", "0" * 64)], ["text"])
