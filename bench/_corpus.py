"""Real human text for the gate benches, embedded once and cached under var/bench/.

* docstrings: the standard library plus installed packages (``PACKAGES``), each
  text once; 15-120 words.
* essays: the human essays of ``../shared/data/outfox/valid.jsonl`` (read in
  place, never copied into the repository).

Vectors come from the pipeline's own embedding model (bundled MiniLM, offline)
and are cached by a hash of the texts, so a second run costs no embedding.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "var" / "bench"
OUTFOX = Path(os.environ.get("ANCHORMIX_OUTFOX", REPO.parent / "shared" / "data" / "outfox" / "valid.jsonl"))
PACKAGES = [("numpy", "numpy"), ("pandas", "pandas"), ("scikit-learn", "sklearn"), ("pyarrow", "pyarrow"),
            ("transformers", "transformers"), ("torch", "torch"), ("sympy", "sympy"), ("networkx", "networkx"),
            ("pydantic", "pydantic"), ("jinja2", "jinja2"), ("requests", "requests"), ("sqlalchemy", "sqlalchemy"),
            ("great-expectations", "great_expectations"), ("dagster", "dagster")]


def docstrings() -> tuple[list[str], list[str]]:
    """``(ids, texts)`` of every harvested docstring, in a stable order."""
    import warnings

    from anchormix.demo.docstrings import harvest_package, harvest_stdlib

    docs = list(harvest_stdlib())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for dist, module in PACKAGES:
            docs.extend(harvest_package(dist, module, max_modules=120))
    seen, ids, texts = set(), [], []
    for d in docs:
        if d.text not in seen:
            seen.add(d.text)
            ids.append(f"{d.package}:{d.qualname}")
            texts.append(d.text)
    return ids, texts


def essays() -> tuple[list[str], list[str]]:
    """``(ids, texts)`` of OUTFOX's human essays; empty when the file is absent."""
    if not OUTFOX.is_file():
        return [], []
    rows = [json.loads(line) for line in OUTFOX.open()]
    rows = [r for r in rows if r["label"] == "human"]
    return [str(r["id"]) for r in rows], [r["text"] for r in rows]


def embed(texts: list[str], name: str) -> np.ndarray:
    """Unit vectors of ``texts`` with the pipeline's default model, cached by content."""
    from anchormix.embed import EmbeddingSettings, encode, load_model

    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"{name}-{digest}.npy"
    if path.exists():
        return np.load(path)
    settings = EmbeddingSettings()
    vectors = encode(load_model(settings), texts, settings)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors
