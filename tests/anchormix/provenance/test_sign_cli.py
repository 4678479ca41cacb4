"""sign_cli: keygen writes a key and a registry snippet; sign adds verifiable manifests."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

from anchormix.provenance.manifest import verify_manifest
from anchormix.provenance.registry import Registry
from anchormix.provenance.sign_cli import main


def test_keygen_then_sign_roundtrip(tmp_path, capsys, human_docs):
    assert main(["keygen", "--out", str(tmp_path / "keys"), "--key-id", "stdlib-2026"]) == 0
    pem = tmp_path / "keys" / "stdlib-2026.pem"
    assert pem.is_file() and (pem.stat().st_mode & 0o777) == 0o600
    snippet = capsys.readouterr().out.splitlines()[-1]
    entry = {"kind": "licensed_human_archive", "license": "PSF-2.0", "trust_tier": "high",
             **tomllib.loads(snippet)}
    registry = Registry.model_validate({"sources": {"python-stdlib": entry}})

    src = tmp_path / "in.jsonl"
    rows = [{"id": "a", "text": human_docs[0], "fetched_at": "2026-02-01T00:00:00+00:00"},
            {"id": "b", "text": human_docs[1]}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["sign", "--key", str(pem), "--key-id", "stdlib-2026", "--source", "python-stdlib",
                 "--creator", "CPython contributors", "--digital-source-type", "digitalCapture",
                 str(src), str(out)]) == 0
    signed = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in signed] == ["a", "b"]
    assert signed[0]["manifest"]["capture_time"] == "2026-02-01T00:00:00+00:00"
    for row in signed:
        assert verify_manifest(row["manifest"], row["text"], "python-stdlib", registry).verdict == "verified"
    assert verify_manifest(signed[0]["manifest"], signed[1]["text"], "python-stdlib", registry).verdict \
        == "hash_mismatch"


def test_refuses_to_overwrite_key_and_reports_bad_input(tmp_path, capsys):
    assert main(["keygen", "--out", str(tmp_path), "--key-id", "k"]) == 0
    assert main(["keygen", "--out", str(tmp_path), "--key-id", "k"]) == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    code = main(["sign", "--key", str(tmp_path / "k.pem"), "--key-id", "k", "--source", "s", "--creator", "c",
                 "--digital-source-type", "digitalCapture", str(bad), str(tmp_path / "o.jsonl")])
    assert code == 1 and "bad.jsonl:1" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists() and not (tmp_path / "o.jsonl.tmp").exists()


def test_runs_as_module(tmp_path):
    done = subprocess.run([sys.executable, "-m", "anchormix.provenance.sign_cli", "keygen", "--out", str(tmp_path),
                           "--key-id", "m"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert 'key_id = "m"' in done.stdout and (tmp_path / "m.pem").is_file()
