"""Strict JSON for inbox rows.

Python's ``json`` accepts ``NaN``/``Infinity`` and keeps the last of repeated
keys; other JSON readers refuse the first and may keep the first key. A row
that two readers would read differently is quarantined rather than guessed at.
"""

from __future__ import annotations

import json
from typing import Any

from anchormix.ingest.safe_text import clip


class _DuplicateKey(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        raise _DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"non-standard constant {name}")


def parse_json(text: str) -> tuple[Any, str | None]:
    """Strict JSON: ``(value, None)`` or ``(None, reason)``; never raises.

    NaN/Infinity and repeated keys are refused: other JSON readers would
    disagree with Python about what the row says.
    """
    try:
        return json.loads(text, object_pairs_hook=_object, parse_constant=_no_constant), None
    except _DuplicateKey as exc:
        return None, f"duplicate_key: {clip(str(exc.args[0]), 60)!r} appears twice in one object"
    except json.JSONDecodeError as exc:
        return None, f"bad_json: {exc.msg} at column {exc.colno}"
    except RecursionError:
        return None, "bad_json: nested too deep"
    except ValueError as exc:  # integer digit limit, non-standard constants
        return None, f"bad_json: {clip(str(exc))}"
