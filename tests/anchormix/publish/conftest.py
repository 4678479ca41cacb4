"""Fixtures for publish tests. Record text is generated placeholder text, labelled synthetic."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest


def _make_records(n: int, start: int = 0) -> pd.DataFrame:
    """``n`` records with synthetic ids and generated placeholder text (not human writing)."""
    ids = [f"syn-id-{i:06d}" for i in range(start, start + n)]
    texts = [f"[synthetic placeholder text #{i}]" for i in range(start, start + n)]
    classes = ["human_verified", "human_presumed", "synthetic_declared", "synthetic_suspected", "unknown"]
    return pd.DataFrame(
        {
            "id": ids,
            "text": texts,
            "source": [f"source-{i % 3}" for i in range(start, start + n)],
            "provenance_class": [classes[i % len(classes)] for i in range(start, start + n)],
            "content_hash": [hashlib.sha256(t.encode()).hexdigest() for t in texts],
            "drop": "2026-11-02",
            "url": [f"https://example.invalid/record/{i}" for i in range(start, start + n)],
            "license": [("CC-BY-4.0", "MIT OR Apache-2.0", "LicenseRef-test-terms")[i % 3]
                        for i in range(start, start + n)],
        }
    )


@pytest.fixture
def make_records():
    """Factory ``make_records(n, start=0)`` of publishable records (synthetic ids and text)."""
    return _make_records
