"""Detector on real data: OUTFOX essays, student vs ChatGPT / davinci-003 / Flan-T5.

Splits by id (seeded, stratified), trains on one side, and prints the held-out
AUROC (overall and per generator), the calibrated threshold with its precision
and recall, the train/test sizes and the wall time. Printed, never asserted.

    .venv/bin/python bench/detector_outfox.py [--path valid.jsonl] [--test-fraction 0.3] [--seed 0]

The data is read from ``../shared/data/outfox/valid.jsonl`` (or
``$ANCHORMIX_OUTFOX``) and never copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "outfox" / "valid.jsonl"


def main(argv: list[str] | None = None) -> int:
    """Train and evaluate; print the figures. Exit 2 when the data is missing."""
    from sklearn.metrics import roc_auc_score

    from anchormix.provenance.detector import DetectorSettings, split_by_id, train_detector

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=Path(os.environ.get("ANCHORMIX_OUTFOX") or DEFAULT))
    parser.add_argument("--test-fraction", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--policy", choices=["target_precision", "max_f1"], default="max_f1")
    parser.add_argument("--target-precision", type=float, default=0.95)
    args = parser.parse_args(argv)
    if not args.path.is_file():
        print(f"OUTFOX essays not found at {args.path}; set ANCHORMIX_OUTFOX or --path", file=sys.stderr)
        return 2
    essays = [json.loads(line) for line in open(args.path, encoding="utf-8") if line.strip()]
    ids = [e["id"] for e in essays]
    labels = [int(e["label"] == "machine") for e in essays]
    settings = DetectorSettings(test_fraction=args.test_fraction, seed=args.seed, threshold_policy=args.policy,
                                target_precision=args.target_precision)
    start = time.perf_counter()
    det, report = train_detector(ids, [e["text"] for e in essays], labels, settings, None)
    fit_s = time.perf_counter() - start
    if det is None:
        print(f"not trained: {report['reason']}")
        return 1
    test = split_by_id(ids, labels, settings.test_fraction, settings.seed)
    held = [e for e, t in zip(essays, test) if t]
    start = time.perf_counter()
    scores = det.score([e["text"] for e in held])
    score_s = time.perf_counter() - start
    human = np.array([e["label"] == "human" for e in held])

    print(f"data            {args.path.resolve()} ({len(essays)} essays, {len(essays) - sum(labels)} human)")
    print(f"model version   {report['version']}")
    print(f"train / test    {report['n_train']} / {report['n_test']} (split by id, seed {settings.seed})")
    print(f"held-out AUROC  {report['heldout_auroc']:.4f}  (human vs all three generators)")
    for generator in sorted({e['generator'] for e in held if e['generator']}):
        mask = human | np.array([e["generator"] == generator for e in held])
        print(f"  vs {generator:<17} {roc_auc_score(~human[mask], scores[mask]):.4f}")
    print(f"threshold       {report['threshold']:.4f}  rule: {report['threshold_rule']}")
    print(f"  synthetic precision {report['precision']:.4f}  recall {report['recall']:.4f}")
    flagged_h = (scores[human] >= det.threshold).mean()
    print(f"  human essays flagged {flagged_h:.3f}  machine essays missed {(scores[~human] < det.threshold).mean():.3f}")
    print(f"time            fit+evaluate {fit_s:.1f}s, score {len(held)} essays {score_s:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
