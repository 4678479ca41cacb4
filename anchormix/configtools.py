"""Small validators for reading config mappings, so every error names its key.

Each config section is a dataclass with a ``from_mapping(data, prefix)``
classmethod built from these helpers. Unknown keys are rejected too: a typo in
``anchormix.toml`` must fail at load, not be silently ignored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from anchormix.errors import ConfigError

_MISSING = object()


def _key(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def reject_unknown(data: Mapping[str, Any], allowed: Iterable[str], prefix: str) -> None:
    """Raise ConfigError naming the first key of ``data`` not in ``allowed``."""
    allowed = set(allowed)
    for name in data:
        if name not in allowed:
            raise ConfigError(_key(prefix, name), f"unknown key (allowed: {', '.join(sorted(allowed))})")


def take_number(
    data: Mapping[str, Any],
    name: str,
    prefix: str,
    default: Any = _MISSING,
    *,
    lo: float | None = None,
    hi: float | None = None,
    integer: bool = False,
) -> Any:
    """Read a finite number, check its type and bounds (inclusive).

    TOML allows ``nan`` and ``inf``; both are refused, since every comparison
    with NaN is false and a bound check would let it through.
    """
    key = _key(prefix, name)
    if name not in data:
        if default is _MISSING:
            raise ConfigError(key, "is required")
        return default
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(key, f"must be a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(key, f"must be a finite number, got {value!r}")
    if integer:
        if isinstance(value, float) and not value.is_integer():
            raise ConfigError(key, f"must be an integer, got {value!r}")
        value = int(value)
    if lo is not None and value < lo:
        raise ConfigError(key, f"must be >= {lo}, got {value!r}")
    if hi is not None and value > hi:
        raise ConfigError(key, f"must be <= {hi}, got {value!r}")
    return value


def take_fraction(data: Mapping[str, Any], name: str, prefix: str, default: Any = _MISSING) -> float:
    """Read a finite number in [0, 1]."""
    return float(take_number(data, name, prefix, default, lo=0.0, hi=1.0))


def take_str(
    data: Mapping[str, Any],
    name: str,
    prefix: str,
    default: Any = _MISSING,
    *,
    choices: Iterable[str] | None = None,
) -> Any:
    """Read a string, optionally one of ``choices``."""
    key = _key(prefix, name)
    if name not in data:
        if default is _MISSING:
            raise ConfigError(key, "is required")
        return default
    value = data[name]
    if not isinstance(value, str):
        raise ConfigError(key, f"must be a string, got {value!r}")
    if choices is not None:
        choices = list(choices)
        if value not in choices:
            raise ConfigError(key, f"must be one of {choices}, got {value!r}")
    return value


def take_bool(data: Mapping[str, Any], name: str, prefix: str, default: Any = _MISSING) -> bool:
    key = _key(prefix, name)
    if name not in data:
        if default is _MISSING:
            raise ConfigError(key, "is required")
        return default
    value = data[name]
    if not isinstance(value, bool):
        raise ConfigError(key, f"must be true or false, got {value!r}")
    return value


def take_table(data: Mapping[str, Any], name: str, prefix: str) -> Mapping[str, Any]:
    """Read a sub-table; a missing one is empty."""
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(_key(prefix, name), f"must be a table, got {value!r}")
    return value
