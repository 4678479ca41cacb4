"""Shared fixtures: real human text (stdlib docstrings) and isolated stores."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

REPO = Path(__file__).resolve().parents[1]

# Tests never touch the user's var/: every in-process import of `pipelines` sees
# this session config, whose paths all live in one temporary directory.
_OWN_ROOT = "ANCHORMIX_TEST_ROOT" not in os.environ
if _OWN_ROOT:
    os.environ["ANCHORMIX_TEST_ROOT"] = tempfile.mkdtemp(prefix="anchormix-test-")
TEST_ROOT = Path(os.environ["ANCHORMIX_TEST_ROOT"])
TEST_CONFIG = TEST_ROOT / "anchormix.toml"
if not TEST_CONFIG.exists():
    text = (REPO / "anchormix.toml").read_text()
    TEST_CONFIG.write_text(text.replace("target_size = 900", "target_size = 450"))
os.environ["ANCHORMIX_CONFIG"] = str(TEST_CONFIG)
OUTFOX = Path(os.environ.get("ANCHORMIX_OUTFOX", REPO.parent / "shared" / "data" / "outfox" / "valid.jsonl"))


@pytest.fixture(scope="session")
def human_texts() -> list[str]:
    """Real human-written text: standard-library docstrings (never text written by this project)."""
    from anchormix.demo.docstrings import harvest_stdlib

    return [d.text for d in harvest_stdlib()]


@pytest.fixture
def con():
    """An in-memory DuckDB store with the schema."""
    import duckdb

    from anchormix.store import init_schema

    connection = duckdb.connect(":memory:")
    init_schema(connection)
    yield connection
    connection.close()


def pytest_collection_modifyitems(session, config, items):
    """Run the Ray tests last. Importing ray replaces stdlib objects (``inspect.isgenerator``) and imports
    ``logging.config``, which changes the standard-library docstrings that other tests and the demo harvest as
    human text; so those modules import ray only when a test runs, and these tests run after the rest."""
    items.sort(key=lambda item: item.get_closest_marker("ray") is not None)  # stable: order kept otherwise


def pytest_sessionfinish(session, exitstatus):
    """Remove the session's temporary root unless the caller provided it (to inspect it)."""
    if _OWN_ROOT and "ANCHORMIX_KEEP_TEST_ROOT" not in os.environ:
        import shutil

        shutil.rmtree(TEST_ROOT, ignore_errors=True)
