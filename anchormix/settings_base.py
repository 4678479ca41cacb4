"""The base of every settings section: a frozen pydantic model that refuses what TOML should not hold.

Each section of ``anchormix.toml`` (and the source registry) is a :class:`Section`:
unknown keys are refused (``extra="forbid"``), ``nan`` and ``inf`` are refused
(``allow_inf_nan=False``), bounds are ``Field`` constraints, choices are
``Literal``, and a bool, string or number is never coerced from another type
(TOML gives real types). Cross-field rules are validators.

:func:`parse_section` validates a mapping and turns pydantic's
``ValidationError`` into :class:`anchormix.errors.ConfigError` whose key is the
dotted location (``mix.human_floor``, ``sources.web.public_keys[0].ed25519``).
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, StrictBool, StrictStr, ValidationError
from pydantic_core import PydanticCustomError

from anchormix.errors import ConfigError

__all__ = [
    "Bool", "FieldError", "Float", "Fraction", "Int", "NonEmptyStr", "Section", "Str", "config_error",
    "parse_section", "revalidated",
]

M = TypeVar("M", bound=BaseModel)


class Section(BaseModel):
    """A config section: frozen, unknown keys refused, finite numbers only."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class FieldError(ValueError):
    """Raised by a validator to blame a key below the one it validates.

    ``FieldError("must be <= max_words (5)", "min_words")`` in a model validator
    blames ``<section>.min_words``; in a field validator the parts are appended
    to the field's own location (``FieldError("duplicate key id", 1, "key_id")``).
    """

    def __init__(self, message: str, *loc: str | int):
        super().__init__(message)
        self.message = message
        self.loc = loc


def _integral(value: Any) -> Any:
    """An integer written as a float (``10.0``) is that integer; ``nan`` and ``inf`` are refused."""
    if isinstance(value, float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise PydanticCustomError("finite_number", "Input should be a finite number")
        if value.is_integer():
            return int(value)
    return value


def _non_empty(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("must not be empty")
    return value


# Field types. Strict: a bool is not a number, a number is not a string, "1" is not a number.
Bool = StrictBool
Str = StrictStr
Int = Annotated[int, BeforeValidator(_integral), Strict()]
Float = Annotated[float, Strict()]  # an int is accepted and becomes a float
Fraction = Annotated[float, Strict(), Field(ge=0.0, le=1.0)]
NonEmptyStr = Annotated[StrictStr, BeforeValidator(_non_empty)]


# ----------------------------------------------------------------------------- errors


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _model_at(model: type[BaseModel] | None, loc: tuple) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``loc`` below ``model`` (best effort)."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if origin in (Union, types.UnionType):
            options = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = _unwrap(options[0]) if len(options) == 1 else None
            origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = next((f for name, f in tp.model_fields.items() if part in (name, f.alias)), None)
            if field is None:
                return None
            tp = field.annotation
        elif origin in (dict, Mapping, typing.Mapping):
            tp = typing.get_args(tp)[1]
        elif origin in (tuple, list):
            tp = typing.get_args(tp)[0]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _message(error: dict, model: type[BaseModel] | None) -> tuple[tuple, str]:
    """(location, message) of one pydantic error, worded as anchormix always worded them."""
    loc, kind, ctx = tuple(error["loc"]), error["type"], error.get("ctx") or {}
    value = error.get("input")
    got = f", got {value!r}"
    if kind in ("value_error", "assertion_error") and isinstance(ctx.get("error"), FieldError):
        return loc + ctx["error"].loc, ctx["error"].message
    if kind in ("value_error", "assertion_error") and ctx.get("error") is not None:
        return loc, str(ctx["error"])
    if kind == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        allowed = sorted(f.alias or name for name, f in owner.model_fields.items()) if owner else []
        return loc, "unknown key" + (f" (allowed: {', '.join(allowed)})" if allowed else "")
    simple = {
        "missing": "is required",
        "finite_number": "must be a finite number" + got,
        "bool_type": "must be true or false" + got,
        "string_type": "must be a string" + got,
        "int_type": "must be an integer" + got,
        "int_from_float": "must be an integer" + got,
        "float_type": "must be a number" + got,
        "dict_type": "must be a table" + got,
        "model_type": "must be a table" + got,
        "model_attributes_type": "must be a table" + got,
        "tuple_type": "must be an array" + got,
        "list_type": "must be an array" + got,
        "date_type": "must be a date (YYYY-MM-DD)" + got,
    }
    if kind in simple:
        return loc, simple[kind]
    comparisons = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">", "less_than": "<"}
    if kind in comparisons:
        bound = next(iter(ctx.values()))
        return loc, f"must be {comparisons[kind]} {bound}{got}"
    if kind == "literal_error":
        return loc, f"must be {ctx.get('expected')}{got}"
    return loc, f"{error['msg']}{got}"


def config_error(exc: ValidationError, prefix: str = "", model: type[BaseModel] | None = None) -> ConfigError:
    """A :class:`ConfigError` for a pydantic ``ValidationError``, keyed by the first error's dotted location.

    Further errors follow on their own lines, each with its dotted key, so one
    load shows every bad value of the file.
    """
    lines = []
    for error in exc.errors(include_url=False):
        loc, message = _message(error, model)
        key = _dotted(((prefix,) if prefix else ()) + loc) or prefix or "<config>"
        lines.append((key, message))
    key, message = lines[0]
    rest = "".join(f"\n{k}: {m}" for k, m in lines[1:])
    return ConfigError(key, message + rest)


def parse_section(model: type[M], data: Any, prefix: str = "", *, context: dict | None = None) -> M:
    """``model.model_validate(data)``, a failure raised as :class:`ConfigError` naming ``<prefix>.<key>``."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise config_error(exc, prefix, model) from None


def revalidated(section: M, changes: Mapping[str, Any], prefix: str = "") -> M:
    """``section`` with ``changes`` applied and validated again, as if the file had said so.

    Keys the file set stay set (a validator that blames the key the user wrote
    still can); ``model_copy(update=...)`` would skip validation.
    """
    data = {**section.model_dump(exclude_unset=True, by_alias=True), **changes}
    return parse_section(type(section), data, prefix)
