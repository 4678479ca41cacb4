"""Synthetic-text detector trained on the pipeline's own confidently labelled records.

**Features** (:mod:`anchormix.provenance.detector_features`): word 1-2-gram
TF-IDF, character 1-5-gram TF-IDF, the record's sentence embedding and twelve
bounded stylometric ratios, each block weighted (``[detector] weight_*``).
Chosen by leave-one-generator-out AUROC on OUTFOX essays (human vs two
generators, tested on the third; ``bench/detector_outfox.py``).

**Model**: ridge classifier (balanced class weights) on the weighted blocks.
Its decision value splits into one contribution per block; each contribution,
after Platt scaling, is squashed into (-``BLOCK_LOGIT_CAP``, ``BLOCK_LOGIT_CAP``)
log-odds with ``cap * tanh(x / cap)`` before they are summed. Within the range
of the training data this is nearly the identity; an odd input cannot make one
block alone carry the score to certainty (one block at its cap, the rest
neutral: P(synthetic) <= 0.95).

**Threshold** at a target human false-flag rate: ``cv_folds``-fold cross-
validation (folds by seeded id hash, stratified by class) gives every training
record an out-of-fold score; the threshold is the conformal
``(1 - max_human_flag_rate)`` quantile of the human records' out-of-fold
scores (the ``ceil((n + 1)(1 - rate))``-th smallest), so a new human record from
the same distribution is flagged with probability <= ``max_human_flag_rate``.

**Presume-human threshold**: a score below the flag threshold is not evidence
of a human author when the text comes from a generator the model never saw
(trained on human vs ChatGPT, a third of Flan-T5 essays score below the 98 %
human quantile, 0.5 % below the human median, fewer below its 30 % quantile). So only a score at or
below the ``presume_human_quantile`` (0.3) quantile of the human out-of-fold
scores gives the verdict ``below_threshold`` (which may make a record
``human_presumed``); a score between the two thresholds gives ``uncertain``
and the record stays ``unknown``.
Reported beside it: synthetic recall at that threshold and class-balanced
precision (``recall / (recall + flag rate)``, the precision at equal numbers of
human and synthetic records).

**Generalisation**: leave-one-source-out: each source of the training set
with at least ``min_per_class`` records (one generator, one human archive) is
held out in turn, a model is trained without it (and without a
``test_fraction`` of the other class, seeded by id), and the held-out source is
scored against that part: AUROC per source, and the flag rate (human source)
or recall (generator source) at the threshold. :func:`health` turns these into
the verdict the ``detector_health`` gate and the labeler use.

**Final model**: after cross-validation chose the threshold, the model is fit
on *all* usable labelled records.

**Version**: first 12 hex of sha256 over the sorted (content hash, label,
source) of the training records, the model parameters, the feature-code
version, the embedding model id and the scikit-learn version. A changed text
changes its content hash, so it never reuses a stale model. Models are saved
as ``detector-<version>.joblib`` (a pickle joblib can read) and reused when the same version is asked for.

**Abstention**: :meth:`Detector.assess` gives the verdict ``abstained`` with
a reason for missing, too short, unseen-script or unseen-language text
(:func:`anchormix.provenance.detector_features.abstain_reason`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
from pydantic import BeforeValidator, Field, model_validator

from anchormix.provenance.detector_features import (
    BLOCKS,
    BlockFeatures,
    Embedder,
    TermCounts,
    TextProfile,
    abstain_reason,
    fit_profile,
    text_of,
    words,
)
from anchormix.settings_base import Float, FieldError, Int, Section

FEATURE_VERSION = "v2:word12+charwb15+emb+style12/ridge/blockcap"
BLOCK_LOGIT_CAP = 3.0
# Settings that change the fitted model or its threshold, so they are part of its version. The rest
# (floor, date cutoff, retrain schedule, gate tolerance) only change how the result is used.
_MODEL_PARAMS = ("max_human_flag_rate", "min_per_class", "min_words", "cv_folds", "test_fraction", "seed",
                 "max_features", "max_train_per_class", "alpha", "weight_word", "weight_char", "weight_emb", "weight_style",
                 "presume_human_quantile")


def _iso_date(value: Any) -> Any:
    """``presume_human_before``: a TOML date or a ``YYYY-MM-DD`` string."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"must be YYYY-MM-DD, got {value!r}") from None
    if isinstance(value, datetime):
        return value.date()
    if value is not None and not isinstance(value, date):
        raise ValueError(f"must be YYYY-MM-DD, got {value!r}")
    return value


class DetectorSettings(Section):
    """``[detector]``: features, threshold rule, health gate and retraining schedule."""

    auroc_floor: Float = Field(0.85, ge=0.5, le=1.0, description=(
        "Held-out detector AUROC below which suspected labels are not trusted"))
    max_human_flag_rate: Float = Field(0.02, ge=0.001, le=0.5)
    flag_rate_alpha: Float = Field(0.01, ge=1e-6, le=0.5)
    min_per_class: Int = Field(20, ge=2)
    min_words: Int = Field(5, ge=1)
    cv_folds: Int = Field(5, ge=2, le=20)
    test_fraction: Float = Field(0.25, ge=0.05, le=0.9)
    seed: Int = 0
    presume_human_before: Annotated[Optional[date], BeforeValidator(_iso_date)] = None
    max_features: Int = Field(200_000, ge=1000)
    max_train_per_class: Int = Field(5000, ge=2, description=(
        "Most usable records per class the model trains on (the smallest seeded id hashes, so the sample is "
        "stable as history grows): training cost and memory stay bounded however large the confident set"))
    alpha: Float = Field(0.3, ge=1e-4, le=1e4)
    weight_word: Float = Field(1.0, ge=0.0, le=10.0)
    weight_char: Float = Field(0.5, ge=0.0, le=10.0)
    weight_emb: Float = Field(0.5, ge=0.0, le=10.0)
    weight_style: Float = Field(1.0, ge=0.0, le=10.0)
    presume_human_quantile: Float = Field(0.3, ge=0.01, le=1.0)
    retrain_growth: Float = Field(0.25, ge=0.0, le=100.0)
    retrain_every_days: Int = Field(0, ge=0)
    rescore_per_night: Float = Field(2.0, ge=0.0, le=1000.0, description=(
        "After a model change, at most this many stored records per record of tonight get the new model's "
        "verdict each night (at least rescore_min); the rest keep the older model's, named in their evidence, "
        "until a later night. 0 = all at once"))
    rescore_min: Int = Field(5000, ge=0)

    @model_validator(mode="after")
    def _some_block(self) -> "DetectorSettings":
        if not any(self.block_weights().values()):
            raise FieldError("at least one feature block needs a weight > 0", "weight_word")
        return self

    def block_weights(self) -> dict[str, float]:
        """Weight per feature block (0 = left out)."""
        return {b: getattr(self, f"weight_{b}") for b in BLOCKS}

    def model_params(self) -> dict[str, Any]:
        """The settings that determine the fitted model (and so its version)."""
        return {k: getattr(self, k) for k in _MODEL_PARAMS}


# ----------------------------------------------------------------------------- small helpers


def _hash_key(seed: int, rid: str) -> int:
    return int(hashlib.sha256(f"{seed}:{rid}".encode()).hexdigest()[:15], 16)


def _hash_order_by_class(ids, labels, seed: int):
    """Per class, the row indices ordered by seeded id hash (a stable, content-free shuffle)."""
    labels = np.asarray(labels)
    keys = np.array([_hash_key(seed, str(i)) for i in ids])
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        yield idx[np.argsort(keys[idx], kind="stable")]


def split_by_id(ids, labels, test_fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of held-out rows: per class, the ``test_fraction`` with the smallest seeded id hash."""
    test = np.zeros(len(ids), dtype=bool)
    for ordered in _hash_order_by_class(ids, labels, seed):
        n_test = min(len(ordered) - 1, max(1, int(round(test_fraction * len(ordered)))))
        test[ordered[:n_test]] = True
    return test


def folds_by_id(ids, labels, k: int, seed: int) -> np.ndarray:
    """Fold number (0..k-1) per row: within each class, rows ranked by seeded id hash, dealt round-robin."""
    fold = np.zeros(len(ids), dtype=int)
    for ordered in _hash_order_by_class(ids, labels, seed):
        fold[ordered] = np.arange(len(ordered)) % k
    return fold


def cap_per_class(ids, labels, cap: int, seed: int) -> np.ndarray:
    """Boolean mask keeping, per class, the ``cap`` rows with the smallest seeded id hash (all when fewer)."""
    keep = np.zeros(len(ids), dtype=bool)
    for ordered in _hash_order_by_class(ids, labels, seed):
        keep[ordered[:cap]] = True
    return keep


def flag_rate_threshold(human_scores, rate: float) -> tuple[float, str]:
    """The conformal threshold: the ``ceil((n+1)(1-rate))``-th smallest human score.

    A new human record exchangeable with these is flagged (score >= threshold)
    with probability <= ``rate``. With too few human scores to certify the rate
    (n + 1 < 1 / rate), the threshold sits just above the highest human score
    and the rule says so (expected flag rate ~ 1 / (n + 1)).
    """
    s = np.sort(np.asarray(human_scores, dtype=float))
    n = len(s)
    if n == 0:
        return 1.0, "no human scores: nothing can be flagged"
    k = math.ceil((n + 1) * (1 - rate))
    if k > n:
        return float(np.nextafter(s[-1], np.inf)), (
            f"above the highest of {n} human scores: too few to certify a {rate:.1%} flag rate "
            f"(expected ~{1 / (n + 1):.1%})")
    # Ties: scores equal to the k-th are flagged too (>=), so move just above when a tie would exceed the rate.
    t = float(s[k - 1])
    if (s >= t).mean() > rate and k < n:
        t = float(np.nextafter(t, np.inf))
    return t, f"conformal {1 - rate:.1%} quantile of {n} out-of-fold human scores (<= {rate:.1%} flagged)"


def presume_threshold(human_scores, quantile: float, flag_threshold: float) -> float:
    """The score at or below which a record may be presumed human: the ``quantile`` of the human out-of-fold
    scores (never above the flag threshold; ``quantile`` 1.0 = everything below the flag threshold)."""
    s = np.asarray(human_scores, dtype=float)
    if quantile >= 1.0 or len(s) == 0:
        return float(np.nextafter(flag_threshold, -np.inf))
    return float(min(np.quantile(s, quantile, method="lower"), np.nextafter(flag_threshold, -np.inf)))


def binomial_excess_p(flagged: int, n: int, rate: float) -> float:
    """One-sided P(X >= flagged) for X ~ Binomial(n, rate): small means the flag rate is above ``rate``."""
    if n <= 0 or flagged <= 0:
        return 1.0
    from scipy.stats import binom

    return float(binom.sf(flagged - 1, n, rate))


def _auroc(y, s) -> float | None:
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        return None
    return float(roc_auc_score(y, s))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -500, 500)))


# ----------------------------------------------------------------------------- the fitted model


@dataclass
class LinearModel:
    """Weighted feature blocks -> ridge decision -> per-block capped, Platt-scaled log-odds."""

    features: BlockFeatures
    coef: np.ndarray
    intercept: float
    platt_a: float = 1.0
    platt_b: float = 0.0
    cap: float = BLOCK_LOGIT_CAP

    def contributions(self, texts, vectors) -> tuple[np.ndarray, list[str]]:
        """Per-block raw decision contributions [n, blocks] (before Platt and the cap)."""
        blocks = self.features.transform_blocks(texts, vectors)
        return self._per_block(len(texts), lambda b, lo, hi: blocks[b])

    def contributions_of(self, X) -> tuple[np.ndarray, list[str]]:
        """:meth:`contributions` from an assembled feature matrix (all blocks side by side)."""
        return self._per_block(X.shape[0], lambda b, lo, hi: X[:, lo:hi])

    def _per_block(self, n_rows: int, block_matrix) -> tuple[np.ndarray, list[str]]:
        """Each block's matrix (``block_matrix(name, lo, hi)``) times its slice of the coefficients."""
        names = list(self.features.spans)
        out = np.zeros((n_rows, len(names)))
        for j, b in enumerate(names):
            lo, hi = self.features.spans[b]
            out[:, j] = np.asarray(block_matrix(b, lo, hi) @ self.coef[lo:hi]).ravel()
        return out, names

    def decision(self, texts, vectors) -> np.ndarray:
        """The plain ridge decision value (for Platt scaling)."""
        c, _ = self.contributions(texts, vectors)
        return c.sum(axis=1) + self.intercept

    def logit(self, texts, vectors) -> np.ndarray:
        c, _ = self.contributions(texts, vectors)
        return self.logit_from(c)

    def logit_from(self, contributions: np.ndarray) -> np.ndarray:
        return capped_logit(contributions, self.intercept, self.platt_a, self.platt_b, self.cap)

    def proba(self, texts, vectors) -> np.ndarray:
        return _sigmoid(self.logit(texts, vectors))


def capped_logit(contributions: np.ndarray, intercept, a: float, b: float, cap: float | None = None):
    """Sum over blocks of ``cap * tanh(term / cap)``, a block's term being its Platt-scaled contribution plus an
    equal share of the Platt-scaled intercept. Uncapped (cap -> inf) this is exactly ``a * decision + b``."""
    cap = BLOCK_LOGIT_CAP if cap is None else cap
    contributions = np.atleast_2d(contributions)
    share = (a * np.asarray(intercept, dtype=float) + b) / contributions.shape[1]
    terms = a * contributions + np.reshape(share, (-1, 1))
    return (cap * np.tanh(terms / cap)).sum(axis=1)


def fit_linear(counts: TermCounts, rows: np.ndarray, texts, vectors, labels,
               settings: DetectorSettings) -> tuple[LinearModel, Any]:
    """Fit features and the ridge classifier on ``rows`` of ``counts`` (``texts``/``vectors``/``labels``: all
    rows); returns the model (Platt left at identity, set by the caller) and the rows' feature matrix."""
    from sklearn.linear_model import RidgeClassifier

    features = BlockFeatures(settings.block_weights(), settings.max_features)
    sub_vectors = None if vectors is None else vectors[rows]
    features.fit(counts, rows, sub_vectors)
    X = features.transform_rows(counts, rows, [texts[i] for i in rows], sub_vectors)
    clf = RidgeClassifier(alpha=settings.alpha, class_weight="balanced").fit(X, np.asarray(labels)[rows])
    model = LinearModel(features=features, coef=np.asarray(clf.coef_, dtype=np.float64).ravel(),
                        intercept=float(np.ravel(clf.intercept_)[0]), cap=BLOCK_LOGIT_CAP)
    return model, X


def platt(decisions, labels) -> tuple[float, float]:
    """Platt scaling: logistic fit of labels on decision values -> (slope, intercept)."""
    from sklearn.linear_model import LogisticRegression

    # Mildly regularised: on nearly separable scores an unregularised slope runs off to infinity, and every
    # probability would sit at 0 or 1.
    lr = LogisticRegression(C=1.0, max_iter=1000).fit(np.asarray(decisions).reshape(-1, 1), np.asarray(labels))
    return max(float(lr.coef_[0, 0]), 1e-6), float(lr.intercept_[0])


# ----------------------------------------------------------------------------- detector


@dataclass
class Assessment:
    """One text's detector verdict: ``suspected``, ``below_threshold`` or ``abstained`` (score None, with a reason)."""

    score: float | None
    verdict: str
    reason: str | None = None

    @property
    def value(self) -> str:
        """The evidence value: the score with 4 decimals, or the abstention reason."""
        return f"{self.score:.4f}" if self.score is not None else (self.reason or "abstained")


@dataclass
class Detector:
    """A fitted detector: ``assess`` gives verdicts, ``score`` P(synthetic) (NaN where it abstains)."""

    version: str
    threshold: float
    model: Any
    report: dict[str, Any] = field(default_factory=dict)
    profile: TextProfile | None = None
    presume_threshold: float | None = None
    training_keys: list[tuple[str, int]] = field(default_factory=list)
    embedding: dict[str, Any] | None = None
    trained_on: str | None = None

    def _vectors(self, texts, content_hashes, embed: Embedder | None, vectors):
        if not self.model.features.needs_vectors or not texts:
            return None
        if vectors is not None:
            return np.asarray(vectors, dtype=np.float32)
        hashes = list(content_hashes) if content_hashes is not None else [_text_hash(t) for t in texts]
        return np.asarray((embed or default_embedder(self.embedding))(hashes, list(texts)), dtype=np.float32)

    def assess(self, texts, content_hashes=None, embed: Embedder | None = None, vectors=None) -> list[Assessment]:
        """A verdict per text. Vectors (when the model uses embeddings) come from ``vectors`` (rows aligned with
        ``texts``), else from ``embed`` for the texts that are scored, else from the model's default embedder."""
        texts = list(texts)
        out: list[Assessment | None] = [None] * len(texts)
        keep = []
        for i, t in enumerate(texts):
            why = abstain_reason(t, self.profile) if self.profile is not None else (
                None if text_of(t) and text_of(t).strip() else "no_text: the text is missing or empty")
            if why:
                out[i] = Assessment(None, "abstained", why)
            else:
                keep.append(i)
        if keep:
            kept_texts = [texts[i] for i in keep]
            kept_vectors = None if vectors is None else np.asarray(vectors)[keep]
            all_hashes = None if content_hashes is None else list(content_hashes)
            hashes = None if all_hashes is None else [all_hashes[i] for i in keep]
            vec = self._vectors(kept_texts, hashes, embed, kept_vectors)
            probs = self.model.proba(kept_texts, vec)
            for i, p in zip(keep, probs):
                if not math.isfinite(float(p)):
                    out[i] = Assessment(None, "abstained", "non_finite: the model gave no finite score")
                else:
                    out[i] = Assessment(float(p), self.verdict(float(p)))
        return out  # type: ignore[return-value]

    def verdict(self, p: float) -> str:
        """``suspected`` at or above the flag threshold, ``below_threshold`` at or below the presume-human
        threshold, ``uncertain`` between them."""
        if p >= self.threshold:
            return "suspected"
        presume = self.threshold if self.presume_threshold is None else self.presume_threshold
        return "below_threshold" if p <= presume else "uncertain"

    def score(self, texts, content_hashes=None, embed: Embedder | None = None, vectors=None) -> np.ndarray:
        """P(synthetic) per text; NaN where the detector abstains."""
        return np.array([a.score if a.score is not None else np.nan
                         for a in self.assess(texts, content_hashes, embed, vectors)], dtype=float)

    def save(self, model_dir: Path) -> Path:
        """Write ``detector-<version>.joblib`` under ``model_dir`` (atomically)."""
        import pickle

        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        path = model_path(model_dir, self.version)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        # The C pickler at protocol 5, not joblib.dump: joblib's pickler is the pure-Python one, and the
        # vectorizers' vocabularies (about a million objects) took it 8.9 CPU-s against 0.08. joblib.load still
        # reads the file, and load_detector reads models joblib wrote before.
        blob = {"version": self.version, "threshold": self.threshold, "model": self.model,
                "report": self.report, "profile": self.profile, "training_keys": self.training_keys,
                "embedding": self.embedding, "trained_on": self.trained_on,
                "presume_threshold": self.presume_threshold}
        with open(tmp, "wb") as f:
            pickle.dump(blob, f, protocol=5)
        tmp.replace(path)  # a crash mid-write must not leave a half model under the real name
        return path


def _text_hash(text) -> str:
    return hashlib.sha256((text_of(text) or "").encode("utf-8")).hexdigest()


def default_embedder(embedding: dict[str, Any] | None = None) -> Embedder:
    """Encode with the embedding model (no cache): the fallback when no pipeline embedder is given."""
    from anchormix.embed import EmbeddingSettings, encode, load_model

    settings = EmbeddingSettings(**{k: v for k, v in (embedding or {}).items()
                                    if k in EmbeddingSettings.model_fields})

    def embed(content_hashes, texts):
        return encode(load_model(settings), [text_of(t) or "" for t in texts], settings)

    return embed


def model_path(model_dir: Path, version: str) -> Path:
    """Where the model of ``version`` lives."""
    return Path(model_dir) / f"detector-{version}.joblib"


def load_detector(model_dir: Path, version: str) -> Detector:
    """Load a saved detector by version; FileNotFoundError if it was never saved."""
    import pickle

    path = model_path(model_dir, version)
    raw = path.read_bytes()
    if b"NumpyArrayWrapper" in raw:  # a model joblib.dump wrote (before models were plain pickles)
        import joblib

        blob = joblib.load(path)
    else:
        blob = pickle.loads(raw)
    return Detector(version=blob["version"], threshold=blob["threshold"], model=blob["model"], report=blob["report"],
                    profile=blob.get("profile"), training_keys=[tuple(k) for k in blob.get("training_keys", [])],
                    embedding=blob.get("embedding"), trained_on=blob.get("trained_on"),
                    presume_threshold=blob.get("presume_threshold"))


def embedding_identity(embedding_settings=None) -> tuple[dict[str, Any], str]:
    """(settings as a dict, model id) of the embedding model the ``emb`` block uses."""
    from anchormix.embed import EmbeddingSettings, model_id

    settings = embedding_settings or EmbeddingSettings()
    return settings.model_dump(), model_id(settings)


def model_version(content_hashes, labels, settings: DetectorSettings, sources=None,
                  embedding_model_id: str | None = None) -> str:
    """Short hash of the training records' (content hash, label, source), params, feature code, embedder, sklearn."""
    import sklearn

    sources = list(sources) if sources is not None else [""] * len(labels)
    rows = sorted(zip(map(str, content_hashes), map(int, labels), map(str, sources)))
    payload = json.dumps({"records": rows, "params": settings.model_params(), "features": FEATURE_VERSION,
                          "embedding": embedding_model_id if settings.weight_emb else None,
                          "sklearn": sklearn.__version__}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def untrained_report(reason: str, n_train: int = 0, n_test: int = 0) -> dict[str, Any]:
    """The detector report when no model could be trained."""
    return {"trained": False, "trusted": False, "reason": reason, "version": None, "heldout_auroc": None,
            "cv_auroc": None, "loso_min_auroc": None, "threshold": None, "precision": None, "recall": None,
            "human_flag_rate": None, "n_train": n_train, "n_test": n_test, "threshold_rule": None, "sources": []}


# ----------------------------------------------------------------------------- evaluation


def _fit_score(counts, texts, vectors, labels, train_idx, test_idx, settings):
    """Fit on ``train_idx``; per-block contributions and plain decisions for ``test_idx``."""
    m, _ = fit_linear(counts, train_idx, texts, vectors, labels, settings)
    X = m.features.transform_rows(counts, test_idx, [texts[i] for i in test_idx],
                                  None if vectors is None else vectors[test_idx])
    contrib, _ = m.contributions_of(X)
    return contrib, contrib.sum(axis=1) + m.intercept, m


def cross_validate(counts, ids, texts, vectors, labels, settings: DetectorSettings) -> dict[str, Any]:
    """Out-of-fold Platt-scaled, block-capped scores for every record, with the Platt fit and fold per record."""
    labels = np.asarray(labels, dtype=int)
    k = max(2, min(settings.cv_folds, int(np.bincount(labels, minlength=2).min())))
    fold = folds_by_id(ids, labels, k, settings.seed)
    contribs, decisions, intercepts = [None] * len(ids), np.zeros(len(ids)), np.zeros(len(ids))
    for f in range(k):
        test_idx, train_idx = np.flatnonzero(fold == f), np.flatnonzero(fold != f)
        c, d, m = _fit_score(counts, texts, vectors, labels, train_idx, test_idx, settings)
        decisions[test_idx] = d
        intercepts[test_idx] = m.intercept
        for j, i in enumerate(test_idx):
            contribs[i] = c[j]
    a, b = platt(decisions, labels)
    logits = capped_logit(np.vstack(contribs), intercepts, a, b)
    return {"scores": _sigmoid(logits), "fold": fold, "k": k, "platt": (a, b)}


def _nested_flag_count(scores, labels, fold, k, rate) -> tuple[int, int]:
    """Flagged humans when each fold's threshold is chosen from the other folds' human scores only."""
    flagged, n = 0, 0
    human = labels == 0
    for f in range(k):
        t = flag_rate_threshold(scores[human & (fold != f)], rate)[0]
        in_fold = human & (fold == f)
        flagged += int((scores[in_fold] >= t).sum())
        n += int(in_fold.sum())
    return flagged, n


def leave_one_source_out(counts, ids, texts, vectors, labels, sources, settings: DetectorSettings,
                         platt_ab: tuple[float, float], threshold: float) -> list[dict[str, Any]]:
    """Hold out each source with >= ``min_per_class`` records (and enough of its class left): AUROC vs a held-out
    part of the other class, and its flag rate (human source) or recall (generator source) at ``threshold``."""
    labels, sources = np.asarray(labels, dtype=int), np.asarray(sources, dtype=object)
    a, b = platt_ab
    other_test = split_by_id(ids, labels, settings.test_fraction, settings.seed + 1)
    rows = []
    for (src, label) in sorted({(s, int(lab)) for s, lab in zip(sources, labels)}):
        mine = (sources == src) & (labels == label)
        rest_same = (labels == label) & ~mine
        row: dict[str, Any] = {"source": str(src), "label": "synthetic" if label else "human", "n": int(mine.sum()),
                               "auroc": None, "flag_rate": None, "recall": None, "held_out": False}
        if mine.sum() < settings.min_per_class:
            row["note"] = f"fewer than {settings.min_per_class} records"
        elif rest_same.sum() < settings.min_per_class:
            row["note"] = "the only source of its class: cannot be held out"
        else:
            test_other = (labels != label) & other_test
            train_idx = np.flatnonzero(rest_same | ((labels != label) & ~other_test))
            test_idx = np.flatnonzero(mine | test_other)
            c, _, m = _fit_score(counts, texts, vectors, labels, train_idx, test_idx, settings)
            s = _sigmoid(capped_logit(c, m.intercept, a, b))
            held = mine[test_idx]
            row.update(held_out=True, auroc=_auroc(labels[test_idx], s), n_other=int(test_other.sum()))
            flagged = int((s[held] >= threshold).sum())
            if label == 0:
                row.update(flag_rate=flagged / int(held.sum()), flagged=flagged)
            else:
                row.update(recall=flagged / int(held.sum()))
        rows.append(row)
    return rows


def health(report: dict[str, Any], auroc_floor: float, max_flag_rate: float | None = None,
           flag_alpha: float | None = None) -> dict[str, Any]:
    """The detector-health verdict from a training report.

    Blocks when the generalisation AUROC (the lowest leave-one-source-out AUROC,
    or the cross-validated AUROC when no source could be held out) is below
    ``auroc_floor``, or when a human flag rate (cross-validated with nested
    thresholds, and each held-out human source's) exceeds ``max_flag_rate`` by
    more than chance allows: one-sided binomial test at ``flag_alpha``.
    """
    if not report.get("trained"):
        return {"passed": False, "reasons": [f"no detector: {report.get('reason')}"], "auroc": None,
                "auroc_basis": None, "flag_rate": None, "flag_rate_limit": None}
    max_flag_rate = report.get("max_human_flag_rate", 0.02) if max_flag_rate is None else max_flag_rate
    flag_alpha = report.get("flag_rate_alpha", 0.01) if flag_alpha is None else flag_alpha
    reasons = []
    loso = [r for r in report.get("sources", []) if r.get("held_out") and r.get("auroc") is not None]
    if loso:
        worst = min(loso, key=lambda r: r["auroc"])
        auroc, basis = worst["auroc"], f"leave-one-source-out (worst: {worst['source']})"
    else:
        auroc, basis = report.get("cv_auroc"), "cross-validated (no source could be held out)"
    if auroc is None or not auroc >= auroc_floor:
        reasons.append(f"{basis} AUROC {auroc if auroc is not None else float('nan'):.3f} < floor {auroc_floor:.3f}")
    checks = [("cross-validated", report.get("cv_flagged", 0), report.get("cv_flag_n", 0))]
    checks += [(f"held-out source {r['source']}", r.get("flagged", 0), r["n"]) for r in loso if r["label"] == "human"]
    limits = {}
    for name, flagged, n in checks:
        p = binomial_excess_p(int(flagged), int(n), max_flag_rate)
        limits[name] = p
        if p < flag_alpha:
            reasons.append(f"{name} human flag rate {flagged}/{n} = {flagged / max(n, 1):.1%} exceeds "
                           f"{max_flag_rate:.1%} beyond chance (binomial p = {p:.2g} < {flag_alpha})")
    n_cv = int(report.get("cv_flag_n", 0))
    return {"passed": not reasons, "reasons": reasons, "auroc": auroc, "auroc_basis": basis,
            "flag_rate": report.get("human_flag_rate"), "flag_rate_limit": flag_rate_limit(n_cv, max_flag_rate,
                                                                                           flag_alpha),
            "flag_p_values": limits}


def flag_rate_limit(n: int, rate: float, alpha: float) -> float | None:
    """The highest flag rate among ``n`` humans that the gate tolerates (binomial p >= alpha)."""
    if n <= 0:
        return None
    from scipy.stats import binom

    k = int(binom.isf(alpha, n, rate))  # P(X > k) <= alpha, so k flagged is still tolerated
    while k + 1 <= n and binomial_excess_p(k + 1, n, rate) >= alpha:
        k += 1
    return k / n


def with_health(report: dict[str, Any], settings: DetectorSettings) -> dict[str, Any]:
    """The report with ``trusted`` and the health verdict under ``settings`` (floor and tolerance may change
    without a retrain)."""
    verdict = health(report, settings.auroc_floor, settings.max_human_flag_rate, settings.flag_rate_alpha)
    out = {**report, "trusted": bool(report.get("trained")) and verdict["passed"], "auroc_floor": settings.auroc_floor,
           "health": verdict}
    if report.get("trained") and not verdict["passed"]:
        out["reason"] = "; ".join(verdict["reasons"])
    return out


# ----------------------------------------------------------------------------- training


def usable_for_training(texts, min_words: int) -> np.ndarray:
    """Mask of texts with at least ``min_words`` words (None, NaN and empty texts are never usable)."""
    return np.array([(t := text_of(x)) is not None and len(words(t)) >= min_words for x in texts], dtype=bool)


def train_detector(ids, texts, labels, settings: DetectorSettings, model_dir: Path | None = None, *,
                   sources=None, content_hashes=None, embed: Embedder | None = None, vectors=None,
                   embedding_settings=None, trained_on: str | None = None, n_confident: int | None = None,
                   ) -> tuple[Detector | None, dict[str, Any]]:
    """Cross-validate, choose the threshold, measure generalisation, fit on everything and (with ``model_dir``) save.

    ``labels``: 1 synthetic, 0 human. ``sources``: each record's source (for
    leave-one-source-out). ``content_hashes``: each text's content hash (for
    the version; computed from the text when absent). Embeddings come from
    ``vectors`` (rows aligned with ``texts``), else ``embed``, else the
    default embedder. Returns ``(detector, report)``; ``detector`` is None,
    with ``report["reason"]``, when too few usable labelled records exist.
    At most ``max_train_per_class`` usable records per class are trained on
    (:func:`cap_per_class`). ``n_confident``: the size of the usable
    confident set the records were sampled from, when the caller sampled them
    already (kept in the report: retraining is judged by its growth).
    """
    ids = list(map(str, ids))
    texts = list(texts)
    labels = np.asarray(labels, dtype=int)
    sources = np.asarray(list(sources) if sources is not None else ["unknown"] * len(ids), dtype=object)
    hashes = list(content_hashes) if content_hashes is not None else [_text_hash(t) for t in texts]
    usable = usable_for_training(texts, settings.min_words)
    n_syn, n_hum = int(labels[usable].sum()), int((labels[usable] == 0).sum())
    if min(n_syn, n_hum) < settings.min_per_class:
        dropped = int((~usable).sum())
        why = f" ({dropped} of {len(ids)} are empty or shorter than {settings.min_words} words)" if dropped else ""
        return None, untrained_report(
            f"too few usable labelled records: {n_hum} human_verified and {n_syn} synthetic_declared{why} "
            f"(need {settings.min_per_class} of each)")
    emb_dict, emb_id = embedding_identity(embedding_settings)
    keep = np.flatnonzero(usable)
    n_confident = max(len(keep), n_confident or 0)
    keep = keep[cap_per_class([ids[i] for i in keep], labels[keep], settings.max_train_per_class, settings.seed)]
    ids = [ids[i] for i in keep]
    texts = [text_of(texts[i]) for i in keep]
    labels, sources = labels[keep], sources[keep]
    hashes = [hashes[i] for i in keep]
    if vectors is not None:
        vectors = np.asarray(vectors, dtype=np.float32)[keep]
    version = model_version(hashes, labels, settings, sources, emb_id)
    if model_dir is not None and model_path(model_dir, version).is_file():
        detector = load_detector(model_dir, version)
        if detector.report.get("n_confident") != n_confident:
            # The same sample drawn from a grown confident set: the model stands, its growth base moves.
            detector.report["n_confident"] = n_confident
            detector.save(model_dir)
        return detector, with_health(detector.report, settings)
    if settings.weight_emb and vectors is None:
        vectors = np.asarray((embed or default_embedder(emb_dict))(hashes, texts), dtype=np.float32)
    if not settings.weight_emb:
        vectors = None

    counts = TermCounts(texts, [b for b, w in settings.block_weights().items() if w])
    cv = cross_validate(counts, ids, texts, vectors, labels, settings)
    scores, fold = cv["scores"], cv["fold"]
    threshold, rule = flag_rate_threshold(scores[labels == 0], settings.max_human_flag_rate)
    presume = presume_threshold(scores[labels == 0], settings.presume_human_quantile, threshold)
    flagged = scores >= threshold
    flag_rate = float(flagged[labels == 0].mean())
    recall = float(flagged[labels == 1].mean())
    nested_flagged, nested_n = _nested_flag_count(scores, labels, fold, cv["k"], settings.max_human_flag_rate)
    loso = leave_one_source_out(counts, ids, texts, vectors, labels, sources, settings, cv["platt"], threshold)
    final, _ = fit_linear(counts, np.arange(len(ids)), texts, vectors, labels, settings)
    final.features.freeze()
    final.platt_a, final.platt_b = cv["platt"]
    profile = fit_profile(texts, settings.min_words)
    held = [r["auroc"] for r in loso if r.get("held_out") and r.get("auroc") is not None]
    report = {
        "trained": True, "reason": "trained", "version": version,
        "cv_auroc": _auroc(labels, scores), "heldout_auroc": _auroc(labels, scores),
        "loso_min_auroc": min(held) if held else None,
        "threshold": threshold, "threshold_rule": rule, "max_human_flag_rate": settings.max_human_flag_rate,
        "presume_threshold": presume, "presume_human_quantile": settings.presume_human_quantile,
        "flag_rate_alpha": settings.flag_rate_alpha,
        "human_flag_rate": nested_flagged / max(nested_n, 1), "cv_flagged": nested_flagged, "cv_flag_n": nested_n,
        "oof_human_flag_rate": flag_rate, "recall": recall,
        "precision": recall / (recall + flag_rate) if recall + flag_rate > 0 else None,
        "n_train": len(ids), "n_test": len(ids), "n_human": int((labels == 0).sum()), "n_confident": n_confident,
        "n_synthetic": int(labels.sum()), "cv_folds": cv["k"], "sources": loso,
        "platt": list(cv["platt"]), "block_cap": BLOCK_LOGIT_CAP, "blocks": settings.block_weights(),
        "feature_version": FEATURE_VERSION, "embedding_model": emb_id if settings.weight_emb else None,
        "profile": profile.as_dict(), "trained_on": trained_on, "params": settings.model_params(),
    }
    detector = Detector(version=version, threshold=threshold, model=final, report=report, profile=profile,
                        presume_threshold=presume,
                        training_keys=sorted(zip(hashes, map(int, labels))), embedding=emb_dict,
                        trained_on=trained_on)
    if model_dir is not None:
        detector.save(model_dir)
    return detector, with_health(report, settings)


def retrain_decision(previous: Detector | None, keys: Sequence[tuple[str, int]], settings: DetectorSettings,
                     today: str | None = None) -> tuple[bool, str]:
    """Whether tonight needs a new model, and why.

    Retrain when there is no model; when a record it was trained on is no
    longer confidently labelled the same way (retracted, relabelled, its text
    changed); when the confident set has grown by ``retrain_growth`` since it
    was trained; or when it is ``retrain_every_days`` or more days old
    (``today`` and the training date are drop dates, so a replay decides alike).
    """
    if previous is None:
        return True, "no model yet"
    if previous.report.get("params", settings.model_params()) != settings.model_params():
        return True, "model settings changed"
    current = set(map(tuple, keys))
    trained = set(map(tuple, previous.training_keys))
    gone = len(trained - current)
    if gone:
        return True, f"{gone} training records are no longer confidently labelled the same way"
    # Growth is measured against the usable confident set at training time, not the (capped) training sample.
    base = int(previous.report.get("n_confident") or len(trained))
    grown = len(current) / max(base, 1) - 1
    if grown >= settings.retrain_growth and len(current) > base:
        return True, f"confident set grew {grown:.0%} (>= {settings.retrain_growth:.0%}) since training"
    if settings.retrain_every_days and today and previous.trained_on:
        age = (date.fromisoformat(today) - date.fromisoformat(previous.trained_on)).days
        if age >= settings.retrain_every_days:
            return True, f"model is {age} days old (>= {settings.retrain_every_days})"
    return False, f"confident set grew {grown:.0%} (< {settings.retrain_growth:.0%}); model {previous.version} kept"
