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


def source_docstrings(min_words: int = 8, max_words: int = 400) -> list[str]:
    """Every distinct docstring (and docstring paragraph) in the installed packages and the standard library.

    Read with ``ast`` from the ``.py`` files, never imported, so it is quick and
    touches no package state. A docstring of several paragraphs also gives each
    paragraph of at least ``min_words`` words as a text of its own. Cached in
    ``var/bench/source-docstrings.json`` (about two CPU-minutes to build).
    """
    import ast
    import sysconfig

    path = CACHE / f"source-docstrings-{min_words}-{max_words}.json"
    if path.exists():
        return json.loads(path.read_text())
    roots = [Path(sysconfig.get_paths()["purelib"]), Path(sysconfig.get_paths()["stdlib"])]
    seen: dict[str, None] = {}
    for root in roots:
        for file in sorted(root.rglob("*.py")):
            try:
                tree = ast.parse(file.read_bytes())
            except (SyntaxError, ValueError, OSError, RecursionError):
                continue
            for node in ast.walk(tree):
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
                    continue
                doc = ast.get_docstring(node)
                if not doc:
                    continue
                parts = [doc] + ([p for p in doc.split("\n\n")] if "\n\n" in doc else [])
                for part in parts:
                    part = part.strip()
                    if min_words <= len(part.split()) <= max_words:
                        seen.setdefault(part, None)
    texts = list(seen)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(texts))
    return texts
