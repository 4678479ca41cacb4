"""Harvest real human-written text: docstrings of the Python standard library and
of installed packages, each with the license its package declares.

Docstrings are written by people (the projects' contributors), are present on
every machine that has Python, and carry a clear license, which makes them an
honest source of human text for demos and tests.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import inspect
import pkgutil
import sys
import warnings
from dataclasses import dataclass

from anchormix.licenses import declared_to_spdx

STDLIB_LICENSE = "PSF-2.0"

# Modules whose import has side effects (GUI, test suites, antigravity opens a browser).
_SKIP_PREFIXES = ("antigravity", "this", "idlelib", "tkinter", "turtle", "test", "lib2to3", "ensurepip",
                  "pydoc_data", "__", "_", "venv", "turtledemo", "xxsubtype", "sre_")


@dataclass(frozen=True)
class Docstring:
    """One harvested docstring and where it came from."""

    package: str
    qualname: str
    text: str
    license: str


def _words(text: str) -> int:
    return len(text.split())


def _iter_objects(module) -> list[tuple[str, object]]:
    out = [(module.__name__, module)]
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_"):
            continue
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(obj) or inspect.isfunction(obj):
            out.append((f"{module.__name__}.{name}", obj))
            if inspect.isclass(obj):
                for mname, member in sorted(vars(obj).items()):
                    if not mname.startswith("_") and inspect.isfunction(member):
                        out.append((f"{module.__name__}.{name}.{mname}", member))
    return out


def _docstrings_of(modules: list[str], package: str, license: str, min_words: int, max_words: int) -> list[Docstring]:
    found: list[Docstring] = []
    for module_name in modules:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = importlib.import_module(module_name)
        except BaseException:  # noqa: BLE001 - some modules exit or raise on import
            continue
        for qualname, obj in _iter_objects(module):
            doc = inspect.getdoc(obj)
            if not doc:
                continue
            # The first paragraphs carry the prose; parameter tables and doctests follow.
            prose = []
            for para in doc.split("\n\n"):
                if para.lstrip().startswith((">>>", "..", "Parameters", "Returns", "Example", "Args", "---")):
                    break
                prose.append(para)
            text = "\n\n".join(prose).strip()
            n = _words(text)
            if min_words <= n:
                if n > max_words:
                    text = " ".join(text.split()[:max_words])
                found.append(Docstring(package, qualname, text, license))
    return found


def stdlib_module_names() -> list[str]:
    """Importable pure-Python standard-library modules, skipping side-effect ones."""
    names = sorted(n for n in sys.stdlib_module_names if not n.startswith(_SKIP_PREFIXES))
    return names


def harvest_stdlib(min_words: int = 15, max_words: int = 120) -> list[Docstring]:
    """Docstrings of standard-library modules, classes and functions."""
    return _dedupe(_docstrings_of(stdlib_module_names(), "python-stdlib", STDLIB_LICENSE, min_words, max_words))


def package_license(distribution: str) -> str:
    """The license a distribution declares, as an SPDX expression.

    Read from its License-Expression, else its License field, else its license
    classifier; what is not SPDX becomes ``LicenseRef-<declared words>``
    (:func:`anchormix.licenses.declared_to_spdx`), and nothing declared is
    ``NOASSERTION``. The registry accepts every value this returns.
    """
    meta = md.metadata(distribution)
    expression = (meta.get("License-Expression") or "").strip()
    field = (meta.get("License") or "").strip()
    declared = expression or (field if field and len(field) < 60 and "\n" not in field else "")
    if not declared:
        declared = next((c.split("::")[-1].strip() for c in meta.get_all("Classifier") or []
                         if c.startswith("License ::")), "")
    return declared_to_spdx(declared)


def harvest_package(distribution: str, import_name: str, min_words: int = 15, max_words: int = 120,
                    max_modules: int = 60) -> list[Docstring]:
    """Docstrings of one installed package's modules (first ``max_modules`` modules)."""
    try:
        package = importlib.import_module(import_name)
    except BaseException:  # noqa: BLE001
        return []
    modules = [import_name]
    if hasattr(package, "__path__"):
        for info in pkgutil.walk_packages(package.__path__, import_name + "."):
            if any(part.startswith("_") or part in {"tests", "testing", "conftest"} for part in info.name.split(".")):
                continue
            modules.append(info.name)
            if len(modules) >= max_modules:
                break
    return _dedupe(_docstrings_of(modules, distribution, package_license(distribution), min_words, max_words))


def _dedupe(docs: list[Docstring]) -> list[Docstring]:
    seen: set[str] = set()
    out = []
    for doc in docs:
        if doc.text not in seen:
            seen.add(doc.text)
            out.append(doc)
    return out
