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


def _manifest(generation):
    return json.loads((generation / "manifest.json").read_text())


def test_a_symlinked_directory_cannot_smuggle_an_unlisted_shard(generation, signer, tmp_path):
    import shutil

    copy = tmp_path / "elsewhere" / "data"
    shutil.copytree(generation / "data", copy)
    (copy / "part-00003.parquet").write_bytes(b"smuggled")
    shutil.rmtree(generation / "data")
    (generation / "data").symlink_to(copy, target_is_directory=True)
    report = verify_generation(generation, signer.public_key_b64)
    _only_problem(report, "data", "symlink")
    assert any("resolves outside" in p for p in report.problems), report.problems


def test_a_symlinked_file_fails_even_with_the_right_bytes(generation, signer, tmp_path):
    card = generation / "README.md"
    outside = tmp_path / "card.md"
    outside.write_bytes(card.read_bytes())
    card.unlink()
    card.symlink_to(outside)
    _only_problem(verify_generation(generation, signer.public_key_b64), "README.md", "symlink")


def test_a_symlink_inside_the_generation_fails_too(generation, signer):
    (generation / "data" / "alias.parquet").symlink_to(generation / "data" / "part-00000.parquet")
    _only_problem(verify_generation(generation, signer.public_key_b64), "data/alias.parquet", "symlink")


@pytest.mark.parametrize("rel", ["../gen-000002/data/part-00000.parquet", "data/../../x", "/etc/passwd"])
def test_a_manifest_entry_outside_the_generation_is_malformed(generation, signer, rel):
    manifest = _manifest(generation)
    manifest["files"].append({"path": rel, "sha256": "0" * 64, "bytes": 1})
    (generation / "manifest.json").write_text(json.dumps(manifest, indent=1))
    _only_problem(verify_generation(generation, signer.public_key_b64), "malformed file entry", rel)


def test_the_publisher_refuses_to_list_a_symlink(tmp_path):
    from anchormix.publish.signing import file_entries

    (tmp_path / "real.txt").write_text("x")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    with pytest.raises(ValueError, match="link.txt"):
        file_entries(tmp_path)


def test_a_generation_copied_under_another_number_is_a_replay(generation, signer, capsys):
    import shutil

    replay = generation.parent / "gen-000003"
    shutil.copytree(generation, replay)
    assert verify_generation(replay, signer.public_key_b64).ok  # a signature alone cannot tell
    _only_problem(verify_generation(replay, signer.public_key_b64, expected_generation=3), "generation 1",
                  "not generation 3")
    assert cli_main(["verify", str(replay), "--public-key", signer.public_key_b64]) == 1
    assert "not generation 3" in capsys.readouterr().out
    assert cli_main(["verify", str(generation), "--public-key", signer.public_key_b64]) == 0
    assert "is generation 1 signed by key test-publisher-2026" in capsys.readouterr().out
    assert cli_main(["verify", str(replay), "--public-key", signer.public_key_b64, "--expect-generation", "1"]) == 0


def test_without_a_signature_block_the_key_id_is_the_trusted_keys_not_signature_json(generation, signer):
    from anchormix.publish.signing import Signer, key_fingerprint, signature_bytes

    manifest = _manifest(generation)
    manifest.pop("signature")
    data = json.dumps(manifest, indent=1).encode()
    (generation / "manifest.json").write_bytes(data)
    # signature.json is not covered by the signature: whatever key id it claims must not be shown as verified.
    (generation / "signature.json").write_bytes(signature_bytes(data, Signer(signer.private_pem, "ceo-of-acme")))
    report = verify_generation(generation, signer.public_key_b64)
    assert report.ok, report.problems
    assert report.key_id == key_fingerprint(signer.public_key) != "ceo-of-acme"


def test_probe_records_in_the_manifest_carry_their_license(tmp_path, make_records, signer):
    records = make_records(30)
    probes = make_records(4, start=100).assign(cluster=[7, 7, 9, 9], cluster_label=["a", "a", "b", "b"])
    gen = publish_generation(tmp_path / "published", 1, records, manifest={}, card_markdown="# card",
                             signer=signer, probes=probes)
    entry = _manifest(gen)["probes"]
    assert [r["license"] for r in entry["records"]] == probes["license"].tolist()
    assert verify_generation(gen, signer.public_key_b64, expected_generation=1).ok
