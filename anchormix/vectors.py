"""Vector helpers shared by the diversity metrics and semantic dedup."""

from __future__ import annotations

import numpy as np


def rows_normalized(X: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), C-contiguous in ``dtype``."""
    x = np.asarray(X, dtype=dtype)
    if x.ndim != 2:
        raise ValueError(f"vectors must be 2-D, got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(x / norms)
