"""The package surface: no dagster import, re-exports, explain delegates to lineage."""

from __future__ import annotations

import subprocess
import sys

import anchormix.provenance as provenance


def test_importing_provenance_never_imports_dagster():
    code = ("import sys, anchormix.provenance, anchormix.provenance.sign_cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'dagster'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_public_api_is_exported():
    for name in provenance.__all__:
        assert hasattr(provenance, name), name
    assert provenance.PROVENANCE_CLASSES == (
        "human_verified", "human_presumed", "synthetic_declared", "synthetic_suspected", "unknown")


def test_explain_delegates_to_lineage(monkeypatch):
    import anchormix.lineage as lineage

    calls = []
    monkeypatch.setattr(lineage, "explain", lambda rid, con=None: calls.append((rid, con)) or "traced")
    assert provenance.explain("rec-1", con="c") == "traced"
    assert calls == [("rec-1", "c")]
