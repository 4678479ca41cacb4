"""Text safe to store in DuckDB and to show in a quarantine reason.

Python strings may hold lone surrogates (from ``surrogateescape`` decoding or a
JSON ``\\ud800`` escape) that UTF-8 cannot encode; storing one would fail the
whole drop, so every reason and id passes through :func:`clean_text`.
"""

from __future__ import annotations


def clean_text(value: str) -> str:
    """``value`` safe to store: lone surrogates become ``\\udxxx`` escapes."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def clip(value: str, limit: int = 120) -> str:
    """``value`` cleaned and cut to ``limit`` characters, for a reason's detail."""
    value = clean_text(value)
    return value if len(value) <= limit else value[:limit] + "…"


def has_surrogate(value: str) -> bool:
    """True when ``value`` holds a lone surrogate, which UTF-8 cannot encode."""
    if value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
