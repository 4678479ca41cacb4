"""SPDX license expressions: validate a source's license, and judge it against a mix's license policy.

Identifiers come from the SPDX license list that ``license-expression`` ships
(the ScanCode LicenseDB index, refreshed with each release), not from a list kept
here, so ``CC-BY-NC-4.0`` or ``PSF-2.0`` are known and a typo is refused. Custom
terms are ``LicenseRef-<idstring>`` (SPDX 2.3, annex D), and ``NOASSERTION``
alone says the terms are not known; it is what a record of an unregistered source
carries.

A policy is two lists of SPDX ids or glob patterns (``[mix] allowed_licenses``,
``denied_licenses``). A record's expression is permitted when its terms can be
met with permitted licenses only: every operand of an ``AND``, at least one of
an ``OR``. A license is permitted when no denied pattern matches it and, if
``allowed_licenses`` is set, an allowed one does.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from functools import lru_cache

NOASSERTION = "NOASSERTION"

# SPDX 2.3 annex D: LicenseRef-<idstring>, optionally behind DocumentRef-<idstring>:.
_LICENSE_REF = re.compile(r"^(DocumentRef-[A-Za-z0-9.\-]+:)?LicenseRef-[A-Za-z0-9.\-]+$")
_PATTERN = re.compile(r"^[A-Za-z0-9.\-+:*?]+$")


@lru_cache(maxsize=1)
def _licensing():
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


@lru_cache(maxsize=4096)
def normalize_license(value: str) -> str:
    """The canonical form of an SPDX license expression (``mit or apache-2.0`` -> ``MIT OR Apache-2.0``).

    Raises ValueError saying what is wrong: an unknown identifier (with the
    ``LicenseRef-`` hint), a malformed expression, or ``NOASSERTION`` inside an
    expression.
    """
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str) or not text:
        raise ValueError("must be an SPDX license expression, got an empty value")
    if text.upper() == NOASSERTION:
        return NOASSERTION
    licensing = _licensing()
    try:
        info = licensing.validate(text)
    except Exception:  # license-expression raises odd errors on a dangling operator ("MIT AND")
        raise ValueError(f"{text!r} is not a valid SPDX license expression") from None
    unknown = [s for s in info.invalid_symbols if not _LICENSE_REF.match(str(s))]
    if unknown or (info.errors and not info.invalid_symbols):
        what = (f"unknown SPDX license identifier(s) {', '.join(repr(str(s)) for s in unknown)}" if unknown
                else "; ".join(info.errors))
        raise ValueError(f"{text!r}: {what}; use an id from https://spdx.org/licenses/ or "
                         "LicenseRef-<name> for custom terms")
    if info.normalized_expression is not None:
        return info.normalized_expression
    return licensing.parse(text, validate=False).render()


def declared_to_spdx(declared: str | None) -> str:
    """What a package declares (an SPDX expression, a License field, a classifier) as an SPDX expression.

    It is kept as is when it parses; anything else becomes ``LicenseRef-<declared
    words>`` (``BSD License`` -> ``LicenseRef-BSD-License``), so the original
    wording survives and a policy can still name it.
    """
    text = (declared or "").strip()
    if not text or text.upper() in ("UNKNOWN", NOASSERTION):
        return NOASSERTION
    try:
        return normalize_license(text)
    except ValueError:
        slug = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9.\-]", "-", text)).strip("-.")
        return f"LicenseRef-{slug[:60] or 'unnamed'}"


def normalize_pattern(value: str) -> str:
    """A policy entry: one SPDX id (canonical case), ``LicenseRef-...``, ``NOASSERTION``, or a glob (``CC-BY-NC*``)."""
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str) or not text:
        raise ValueError("must not be empty")
    if not _PATTERN.match(text):
        raise ValueError(f"{text!r} must be one SPDX license id or a glob of one (letters, digits, . - + : * ?), "
                         "not an expression")
    if any(c in text for c in "*?"):
        return text
    canonical = normalize_license(text)
    if " " in canonical:
        raise ValueError(f"{text!r} must be one license id, not an expression")
    return canonical


def _matches(names: Sequence[str], patterns: Sequence[str]) -> str | None:
    for pattern in patterns:
        if any(fnmatch.fnmatchcase(name.upper(), pattern.upper()) for name in names):
            return pattern
    return None


def _symbol_verdict(symbol, allowed: Sequence[str], denied: Sequence[str]) -> tuple[bool, str]:
    license_symbol = getattr(symbol, "license_symbol", None)
    names = [str(symbol)] + ([license_symbol.key] if license_symbol is not None else [])
    hit = _matches(names, denied)
    if hit is not None:
        return False, f"{symbol} is denied ({hit!r} in denied_licenses)"
    if allowed and _matches(names, allowed) is None:
        return False, f"{symbol} is not in allowed_licenses"
    return True, ""


def license_verdict(expression: str, allowed: Sequence[str] = (), denied: Sequence[str] = ()) -> tuple[bool, str]:
    """``(permitted, why not)`` of one license expression under a policy; ``why`` is empty when permitted.

    With neither list set everything is permitted. An expression that does not
    parse (a registry written before licenses were validated) is never
    permitted under a policy.
    """
    if not allowed and not denied:
        return True, ""
    if expression == NOASSERTION:
        return _symbol_verdict(_Named(NOASSERTION), allowed, denied)
    licensing = _licensing()
    try:
        parsed = licensing.parse(normalize_license(expression), validate=False)
    except ValueError as exc:
        return False, str(exc)

    def judge(node) -> tuple[bool, str]:
        if isinstance(node, licensing.AND) or isinstance(node, licensing.OR):
            verdicts = [judge(arg) for arg in node.args]
            ok = all(v[0] for v in verdicts) if isinstance(node, licensing.AND) else any(v[0] for v in verdicts)
            return ok, "" if ok else "; ".join(why for good, why in verdicts if not good)
        return _symbol_verdict(node, allowed, denied)

    return judge(parsed)


class _Named:
    """A bare name judged like a license symbol (``NOASSERTION`` is not one to license-expression)."""

    def __init__(self, name: str):
        self.name = name

    def __str__(self) -> str:
        return self.name
