"""Heuristic quality signals in the style of Gopher (Rae et al. 2021), C4 and
FineWeb. Each rule gives a value, a pass/fail and, when it fails, a reason.

The defaults follow the published thresholds except ``min_words``: Gopher uses 50
words, which would drop most short-form sources (docstrings, captions, Q&A),
so it is configurable and defaults lower.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from anchormix.configtools import reject_unknown, take_fraction, take_number

STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})
_WORD = re.compile(r"\S+")
_ALPHA = re.compile(r"[^\W\d_]", re.UNICODE)


@dataclass(frozen=True)
class QualitySettings:
    """``[quality]`` thresholds."""

    min_words: int = 8
    max_words: int = 100_000
    min_mean_word_length: float = 3.0
    max_mean_word_length: float = 10.0
    max_symbol_ratio: float = 0.1
    min_alpha_word_fraction: float = 0.8
    min_stop_words: int = 2
    max_ellipsis_line_fraction: float = 0.3
    max_duplicate_line_fraction: float = 0.3

    @classmethod
    def from_mapping(cls, data: dict, prefix: str = "quality") -> "QualitySettings":
        names = [f.name for f in fields(cls)]
        reject_unknown(data, names, prefix)
        values = {}
        for f in fields(cls):
            if f.name.endswith(("fraction", "ratio")):
                values[f.name] = take_fraction(data, f.name, prefix, f.default)
            else:
                values[f.name] = take_number(data, f.name, prefix, f.default, lo=0, integer=f.type == "int")
        settings = cls(**values)
        if settings.min_words > settings.max_words:
            raise_key = f"{prefix}.min_words"
            from anchormix.errors import ConfigError

            raise ConfigError(raise_key, f"must be <= max_words ({settings.max_words})")
        return settings


@dataclass(frozen=True)
class QualityResult:
    """Score in [0, 1] (share of rules passed), overall pass and failed-rule reasons."""

    score: float
    passed: bool
    reasons: tuple[str, ...]


def assess(text: str, settings: QualitySettings) -> QualityResult:
    """Apply every rule to normalized ``text``."""
    words = _WORD.findall(text)
    n_words = len(words)
    lines = [line for line in text.split("\n") if line.strip()]
    failures: list[str] = []
    checks = 0

    def rule(ok: bool, reason: str) -> None:
        nonlocal checks
        checks += 1
        if not ok:
            failures.append(reason)

    rule(n_words >= settings.min_words, f"too_few_words({n_words}<{settings.min_words})")
    rule(n_words <= settings.max_words, f"too_many_words({n_words}>{settings.max_words})")
    mean_len = sum(len(w) for w in words) / n_words if n_words else 0.0
    rule(
        settings.min_mean_word_length <= mean_len <= settings.max_mean_word_length,
        f"mean_word_length({mean_len:.1f})",
    )
    symbols = text.count("#") + text.count("...") + text.count("…")
    ratio = symbols / n_words if n_words else 1.0
    rule(ratio <= settings.max_symbol_ratio, f"symbol_ratio({ratio:.2f})")
    alpha = sum(1 for w in words if _ALPHA.search(w)) / n_words if n_words else 0.0
    rule(alpha >= settings.min_alpha_word_fraction, f"alpha_word_fraction({alpha:.2f})")
    stops = sum(1 for w in words if w.lower().strip(".,;:!?\"'()") in STOP_WORDS)
    rule(stops >= settings.min_stop_words, f"stop_words({stops}<{settings.min_stop_words})")
    if lines:
        ellipsis = sum(1 for line in lines if line.rstrip().endswith(("...", "…"))) / len(lines)
        rule(ellipsis <= settings.max_ellipsis_line_fraction, f"ellipsis_lines({ellipsis:.2f})")
        dup = 1 - len(set(lines)) / len(lines)
        rule(dup <= settings.max_duplicate_line_fraction, f"duplicate_lines({dup:.2f})")
    score = 1 - len(failures) / checks
    return QualityResult(round(score, 4), not failures, tuple(failures))
