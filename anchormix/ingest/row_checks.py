"""Checks a parsed row must pass before the schema is even consulted.

A row can match the schema and still be unstorable: a lone surrogate (from a
JSON ``\\ud800`` escape) cannot be written as UTF-8, and ``metadata`` or
``manifest`` are stored as JSON, which holds no NaN, timestamp or bytes (a
Parquet file can carry all three). Such a row is quarantined, not crashed on.
"""

from __future__ import annotations

import math
from typing import Any

from anchormix.ingest.safe_text import clip, has_surrogate

_JSON_SCALARS = (str, int, float, bool, type(None))


def row_problem(row: dict) -> str | None:
    """Why a parsed row cannot be stored even if it matches the schema, or None.

    A lone surrogate in any string or key (``invalid_unicode:<field>``), and
    inside ``metadata``/``manifest`` a value JSON cannot hold (a non-finite
    number, a Parquet timestamp or binary).
    """
    stack: list[tuple[str, Any, bool]] = [(str(k), v, False) for k, v in reversed(row.items())]
    if any(isinstance(k, str) and has_surrogate(k) for k in row):
        return "invalid_unicode: a field name"
    while stack:
        path, value, nested = stack.pop()
        if isinstance(value, str):
            if has_surrogate(value):
                return f"invalid_unicode: {clip(path, 80)}"
        elif isinstance(value, dict):
            inner = nested or path in ("metadata", "manifest")
            for key, item in reversed(value.items()):
                if not isinstance(key, str) or has_surrogate(key):
                    return f"invalid_unicode: a key in {clip(path, 80)}"
                stack.append((f"{path}.{key}", item, inner))
        elif isinstance(value, (list, tuple)):
            inner = nested or path in ("metadata", "manifest")
            stack.extend((f"{path}[{i}]", item, inner) for i, item in reversed(list(enumerate(value))))
        elif nested and isinstance(value, float) and not math.isfinite(value):
            return f"bad_value: {clip(path, 80)} is not a finite number"
        elif nested and not isinstance(value, _JSON_SCALARS):
            return f"bad_value: {clip(path, 80)} is {type(value).__name__}, not a JSON value"
    return None
