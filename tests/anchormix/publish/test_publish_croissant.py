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
    assert set(k.split("/", 1)[1] for k in rows[0]) == set(RECORD_FIELDS)


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
