"""Settle the fast embedder's borderline semantic-duplicate pairs with the model it was distilled from.

The static fast embedder (:mod:`anchormix.fast_embed`) reproduces MiniLM's
duplicate pairs from a bag of weighted tokens. Far above its threshold it
agrees with MiniLM, far below too; the pairs it gets wrong sit near its
threshold (a dropped sentence, templated docstrings that differ in one word).
So the semantic stage searches the fast vectors a ``margin`` below the fast
threshold, keeps the pairs at or above ``tau + margin`` as they are, and asks
the teacher (``[embedding] model``, MiniLM by default) about the pairs in
between: such a pair stands when the teacher's cosine reaches the configured
``[dedup] semantic_tau``. Only the records of those pairs are embedded by the
teacher; its vectors are cached under the teacher's own model id, so they never
mix with the fast model's.

Measured on ``bench/fast_embedder.py``'s held-out half (a margin of 0.01 chosen
on the tune half, the artifact's own tau): MiniLM's pairs found 0.928 -> 0.955,
precision 0.936 -> 0.960; the teacher embedded 6.5 % of that set's records.
On a 100k docstring drop (``bench/scale.py``), dense with near-identical
docstrings, it embedded 4.4 % of the records, about 180 CPU-s, which is why
``[embedding] verify_margin`` is off by default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class BandCheck:
    """What the check did: pairs in the band, of them kept, records the teacher embedded."""

    band_pairs: int = 0
    kept: int = 0
    teacher_records: int = 0

    def as_dict(self) -> dict:
        return {"verify_band_pairs": self.band_pairs, "verify_kept": self.kept,
                "verify_teacher_records": self.teacher_records}


def search_tau(tau: float, margin: float) -> float:
    """The threshold to search the fast vectors at: ``margin`` below the fast model's own."""
    return tau - margin


def settle_band(pairs: pd.DataFrame, tau: float, margin: float, teacher_tau: float,
                teacher_vectors: Callable[[np.ndarray], np.ndarray]) -> tuple[pd.DataFrame, BandCheck]:
    """``pairs`` (``i, j, similarity`` under the fast model) without the band pairs the teacher rejects.

    Pairs at or above ``tau + margin`` stand; pairs below ``tau - margin`` go;
    a pair in between stands when the teacher's cosine is at least
    ``teacher_tau``. ``teacher_vectors(positions)`` returns one unit vector per
    position (sorted, distinct), from the teacher model.
    """
    sim = pairs["similarity"].to_numpy(dtype=float)
    sure = sim >= tau + margin
    band = (sim >= tau - margin) & ~sure
    check = BandCheck(band_pairs=int(band.sum()))
    if not check.band_pairs:
        return pairs[sure].reset_index(drop=True), check
    i = pairs["i"].to_numpy(np.int64)[band]
    j = pairs["j"].to_numpy(np.int64)[band]
    positions = np.unique(np.concatenate([i, j]))
    vectors = np.asarray(teacher_vectors(positions), dtype=np.float32)
    if vectors.shape[0] != len(positions):
        raise ValueError(f"the teacher gave {vectors.shape[0]} vectors for {len(positions)} records")
    row = {int(p): k for k, p in enumerate(positions)}
    a = vectors[[row[int(x)] for x in i]]
    b = vectors[[row[int(x)] for x in j]]
    agreed = np.einsum("ij,ij->i", a, b) >= teacher_tau - 1e-6
    keep = sure.copy()
    keep[np.flatnonzero(band)[agreed]] = True
    check.kept = int(agreed.sum())
    check.teacher_records = len(positions)
    return pairs[keep].reset_index(drop=True), check
