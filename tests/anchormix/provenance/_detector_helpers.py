"""Helpers for the detector and labeler tests: a memoised real embedder and real non-English text."""

from __future__ import annotations

import gettext
from pathlib import Path

import numpy as np
import pytest

_VECTORS: dict[str, np.ndarray] = {}


def cached_embed(hashes, texts):
    """The real embedding model, memoised across the module (the pipeline caches vectors the same way)."""
    from anchormix.provenance.detector import default_embedder

    todo = [(h, t) for h, t in zip(hashes, texts) if h not in _VECTORS]
    if todo:
        _VECTORS.update(zip([h for h, _ in todo], default_embedder()([h for h, _ in todo], [t for _, t in todo])))
    return np.stack([_VECTORS[h] for h in hashes])


def translations(locale: str) -> str:
    """Real non-English text on this machine: the translated strings of an installed package's catalog."""
    humanize = pytest.importorskip("humanize")
    path = Path(humanize.__file__).parent / "locale" / locale / "LC_MESSAGES" / "humanize.mo"
    if not path.is_file():
        pytest.skip(f"no {locale} catalog in the installed humanize package")
    with open(path, "rb") as handle:
        catalog = gettext.GNUTranslations(handle)._catalog  # noqa: SLF001 - the strings themselves
    values = [v.replace("%d", "").replace("%s", "") for k, v in catalog.items() if k and isinstance(v, str)]
    return " ".join(values)
