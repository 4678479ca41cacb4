"""Real data: OUTFOX essays (500 student, 1,500 from three generators), split by id.

The file lives outside the repository (``../shared/data/outfox/valid.jsonl``,
or ``$ANCHORMIX_OUTFOX``) and is never copied in; without it this test skips.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from anchormix.provenance.detector import DetectorSettings, split_by_id, train_detector

DEFAULT = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "outfox" / "valid.jsonl"


def outfox_path() -> Path:
    return Path(os.environ.get("ANCHORMIX_OUTFOX") or DEFAULT)


@pytest.fixture(scope="module")
def essays() -> list[dict]:
    path = outfox_path()
    if not path.is_file():
        pytest.skip(f"OUTFOX essays not found at {path} (set ANCHORMIX_OUTFOX to the valid.jsonl path)")
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_detector_separates_students_from_all_three_generators(essays, tmp_path):
    ids = [e["id"] for e in essays]
    labels = [int(e["label"] == "machine") for e in essays]
    assert sum(labels) == 1500 and len(labels) == 2000
    settings = DetectorSettings(test_fraction=0.3, seed=0)
    det, report = train_detector(ids, [e["text"] for e in essays], labels, settings, tmp_path)
    assert report["trained"] and report["trusted"]
    assert report["heldout_auroc"] >= 0.95, report
    assert report["n_test"] == 600 and report["n_train"] == 1400
    assert report["precision"] >= 0.9 and report["recall"] >= 0.9, report

    # Each generator on its own, on the held-out side only.
    test = split_by_id(ids, labels, settings.test_fraction, settings.seed)
    held = [e for e, t in zip(essays, test) if t]
    scores = det.score([e["text"] for e in held])
    from sklearn.metrics import roc_auc_score

    human = np.array([e["label"] == "human" for e in held])
    for generator in ("chatgpt", "text_davinci_003", "flan_t5_xxl"):
        mask = human | np.array([e["generator"] == generator for e in held])
        auroc = roc_auc_score(~human[mask], scores[mask])
        assert auroc >= 0.9, (generator, auroc)
