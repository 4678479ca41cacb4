"""Real text for the quality tests, read in place: nothing here is written by this project.

- standard-library docstrings (``inspect.getdoc``, via the demo's harvester);
- OUTFOX essays (``../shared/data/outfox/valid.jsonl``), when present;
- gettext catalogs installed on this machine (``/usr/share/locale``): each holds
  a program's English messages and their translation by a human translator, so
  the same long help texts exist in English and in other languages.
"""

from __future__ import annotations

import gettext
import json
import os
from functools import lru_cache
from pathlib import Path

from anchormix.normalize import normalize_text

REPO = Path(__file__).resolve().parents[3]
OUTFOX = Path(os.environ.get("ANCHORMIX_OUTFOX", REPO.parent / "shared" / "data" / "outfox" / "valid.jsonl"))
LOCALE = Path("/usr/share/locale")


@lru_cache(maxsize=1)
def stdlib_docstrings() -> tuple[str, ...]:
    from anchormix.demo.docstrings import harvest_stdlib

    return tuple(normalize_text(d.text) for d in harvest_stdlib())


@lru_cache(maxsize=1)
def outfox_essays() -> tuple[str, ...]:
    """All 2,000 OUTFOX essays (human and machine), or none when the file is absent."""
    if not OUTFOX.is_file():
        return ()
    with OUTFOX.open(encoding="utf-8") as f:
        return tuple(normalize_text(json.loads(line)["text"]) for line in f if line.strip())


@lru_cache(maxsize=None)
def catalog_pairs(lang: str, min_chars: int = 200) -> tuple[tuple[str, str], ...]:
    """(English message, its ``lang`` translation) pairs of at least ``min_chars`` characters each,
    from every gettext catalog installed for ``lang``; empty when there are none."""
    pairs: dict[str, str] = {}
    for path in sorted((LOCALE / lang / "LC_MESSAGES").glob("*.mo")):
        try:
            with path.open("rb") as f:
                catalog = gettext.GNUTranslations(f)._catalog
        except (OSError, ValueError, UnicodeDecodeError):
            continue
        for source, target in catalog.items():
            if (isinstance(source, str) and isinstance(target, str) and source != target
                    and len(source) >= min_chars and len(target) >= min_chars):
                pairs[normalize_text(source)] = normalize_text(target)
    return tuple(sorted(pairs.items()))
