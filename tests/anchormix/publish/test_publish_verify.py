"""Signed generations: the manifest hashes every file, and verify checks every hash and the signature."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from anchormix.cli import main as cli_main
from anchormix.provenance.manifest import generate_keypair
from anchormix.publish.atomic import publish_generation
from anchormix.publish.signing import Signer
from anchormix.publish.verify import generation_dir, verify_generation


@pytest.fixture
def signer():
    pem, _ = generate_keypair()
    return Signer(pem, "test-publisher-2026")


@pytest.fixture
def generation(tmp_path, make_records, signer):
    return publish_generation(tmp_path / "published", 1, make_records(25), manifest={}, shard_rows=10,
                              card_markdown="# card\n\n![shares](plots/shares.png)\n",
                              plots={"shares.png": b"\x89PNG-placeholder"}, signer=signer)


def _only_problem(report, *words):
    assert not report.ok
    assert any(all(w in p for w in words) for p in report.problems), report.problems


def test_an_untouched_generation_verifies(generation, signer):
    report = verify_generation(generation, signer.public_key_b64)
    assert report.ok, report.problems
    assert report.key_id == "test-publisher-2026"
    manifest = json.loads((generation / "manifest.json").read_text())
    listed = {f["path"] for f in manifest["files"]}
    assert listed == {"croissant.json", "README.md", "plots/shares.png", "data/part-00000.parquet",
                      "data/part-00001.parquet", "data/part-00002.parquet"}
    assert manifest["signature"] == {"algorithm": "ed25519", "key_id": "test-publisher-2026",
                                     "public_key": signer.public_key_b64, "file": "signature.json"}
    sig = json.loads((generation / "signature.json").read_text())
    assert sig["key_id"] == "test-publisher-2026" and sig["algorithm"] == "ed25519"


def test_a_changed_shard_fails(generation, signer):
    shard = generation / "data" / "part-00001.parquet"
    table = pq.read_table(shard)
    texts = table.column("text").to_pylist()
    texts[0] = texts[0] + " "
    pq.write_table(table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts)), shard)
    _only_problem(verify_generation(generation, signer.public_key_b64), "data/part-00001.parquet", "sha256")


@pytest.mark.parametrize("rel", ["data/part-00002.parquet", "croissant.json", "README.md", "plots/shares.png"])
def test_a_removed_file_fails(generation, signer, rel):
    (generation / rel).unlink()
    _only_problem(verify_generation(generation, signer.public_key_b64), rel, "missing")


def test_a_wrong_key_fails(generation):
    _, other = generate_keypair()
    _only_problem(verify_generation(generation, other), "signature", "does not verify")


def test_an_added_file_and_an_edited_manifest_fail(generation, signer):
    (generation / "data" / "part-00003.parquet").write_bytes(b"smuggled")
    _only_problem(verify_generation(generation, signer.public_key_b64), "part-00003.parquet", "not listed")
    (generation / "data" / "part-00003.parquet").unlink()
    manifest = json.loads((generation / "manifest.json").read_text())
    manifest["records"][0]["license"] = "CC0-1.0"  # relicensing a record after the fact
    (generation / "manifest.json").write_text(json.dumps(manifest, indent=1))
    _only_problem(verify_generation(generation, signer.public_key_b64), "signature", "does not verify")


def test_unsigned_or_unkeyed_never_counts_as_verified(tmp_path, make_records, generation):
    unsigned = publish_generation(tmp_path / "plain", 1, make_records(5), manifest={}, card_markdown="# card")
    _only_problem(verify_generation(unsigned, generate_keypair()[1]), "signature.json", "unsigned")
    _only_problem(verify_generation(generation, None), "no public key")
    (generation / "signature.json").write_text("{}")
    _only_problem(verify_generation(generation, generate_keypair()[1]), "signature.json", "unreadable")
    assert not verify_generation(tmp_path / "nowhere", None).ok


def test_cli_exit_code_and_generation_names(generation, signer, capsys):
    root = generation.parent
    assert generation_dir("gen-1", root) == generation == generation_dir("1", root) == generation_dir("latest", root)
    assert cli_main(["verify", str(generation), "--public-key", signer.public_key_b64]) == 0
    assert "VERIFIED" in capsys.readouterr().out
    (generation / "README.md").write_text("# a different card")
    assert cli_main(["verify", str(generation), "--public-key", signer.public_key_b64]) == 1
    out = capsys.readouterr().out
    assert "FAIL  README.md: sha256 differs" in out and "NOT VERIFIED" in out


def test_readme_documents_licenses_and_verification_and_their_settings():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    assert "\n## Licenses\n" in readme and "\n## Verifying a generation\n" in readme
    table = {line.split("|")[1].strip(): line for line in readme.splitlines() if line.startswith("| `[")}
    for key in ("signing_key", "key_id", "public_key"):
        assert f"`{key}`" in table["`[publish]`"], key
    for key in ("allowed_licenses", "denied_licenses"):
        assert f"`{key}`" in table["`[mix]`"], key
    assert "anchormix verify" in readme and "gx_licenses" in readme
