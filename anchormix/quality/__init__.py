"""Heuristic quality filters: Gopher quality, Gopher repetition, C4 and FineWeb.

One module per filter, datatrove style (``gopher_quality``, ``gopher_repetition``,
``c4``, ``fineweb``), each the published rules with the published thresholds
(``QualitySettings``; the three places where anchormix's defaults differ are
listed in ``anchormix.quality.settings``). :func:`assess` resolves the record's
language first (``anchormix.quality.lang``) so that English-only rules never
drop text in another language, applies every enabled filter, and returns every
failed rule as a reason named ``<filter>.<rule>(<value>)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from anchormix.quality import c4, fineweb, gopher_quality, gopher_repetition
from anchormix.quality.base import Checks, Document
from anchormix.quality.lang import GOPHER_STOP_WORDS, Language, resolve_language
from anchormix.quality.settings import FILTERS, QualitySettings
from anchormix.quality.word_stats import batch_word_stats

STOP_WORDS = frozenset(GOPHER_STOP_WORDS)
_MODULES = {"gopher_quality": gopher_quality, "gopher_repetition": gopher_repetition, "c4": c4, "fineweb": fineweb}

__all__ = ["FILTERS", "STOP_WORDS", "QualityResult", "QualitySettings", "assess", "assess_batch", "language_of"]


@dataclass(frozen=True)
class QualityResult:
    """Score in [0, 1] (share of applied rules passed), overall pass, failed-rule reasons,
    the language the rules assumed and where it came from, and the rules skipped for it."""

    score: float
    passed: bool
    reasons: tuple[str, ...]
    language: str = "und"
    language_source: str = "none"
    skipped: tuple[str, ...] = ()


def language_of(text: str, settings: QualitySettings, metadata: Any = None) -> Language:
    """The language :func:`assess` assumes for ``text`` with ``metadata`` (a dict or JSON string)."""
    return resolve_language(text, metadata, min_confidence=settings.min_lang_confidence,
                            detect=settings.detect_language)


def assess(text: str, settings: QualitySettings, metadata: Any = None) -> QualityResult:
    """Apply every enabled filter to normalized ``text``.

    ``metadata`` is the record's metadata (a dict or its JSON string); its
    ``lang`` (and ``lang_confidence``) say which language the text is in.
    """
    return assess_batch([text], settings, [metadata])[0]


def assess_batch(texts: Sequence[str], settings: QualitySettings,
                 metadatas: Sequence[Any] | None = None) -> list[QualityResult]:
    """:func:`assess` of each text (with its metadata), the word counts taken for the whole batch at once."""
    metadatas = [None] * len(texts) if metadatas is None else metadatas
    if len(metadatas) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(metadatas)} metadata values")
    unknown_as_english = settings.unknown_language == "english"
    docs = [Document(text, language_of(text, settings, metadata), unknown_as_english)
            for text, metadata in zip(texts, metadatas)]
    judged = [doc for doc in docs if doc.text.strip()]
    stats = batch_word_stats([doc.words for doc in judged], [n for n, _ in settings.top_ngram_limits()],
                             settings.top_ngram_min_count, [n for n, _ in settings.duplicate_ngram_limits()])
    for doc, counts in zip(judged, stats):
        doc.stats = counts
    return [_judge(doc, settings) for doc in docs]


def _judge(doc: Document, settings: QualitySettings) -> QualityResult:
    language = doc.language
    if doc.stats is None:
        return QualityResult(0.0, False, ("quality.empty",), language.code, language.source)
    checks = Checks()
    for name in settings.filters:
        _MODULES[name].check(doc, settings, checks)
    score = 1 - len(checks.failures) / checks.applied if checks.applied else 1.0
    return QualityResult(round(score, 4), not checks.failures, tuple(checks.failures), language.code,
                         language.source, tuple(checks.skipped))
