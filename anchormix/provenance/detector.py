"""Synthetic-text detector trained on the pipeline's own confidently labelled records.

Features: character n-gram TF-IDF (``char_wb``, 1-5) joined with a handful of
standardized stylometric features (type-token ratio, word and sentence length,
sentence-length spread, punctuation / digit / uppercase / newline rates).
Model: logistic regression with balanced class weights. Label 1 = synthetic.

Training data: records already classified ``human_verified`` (0) or
``synthetic_declared`` (1). Held-out split: stratified by class, assignment by
a seeded hash of the record id (so a record keeps its side as history grows).
The model is fit on the training side only, and the held-out side gives the
AUROC and the threshold, so the reported figures describe the deployed model.

Threshold rule (``threshold_policy``):

* ``max_f1`` (default): the held-out score maximizing F1 of the synthetic
  class (ties: the first, i.e. lowest, such score).
* ``target_precision``: the lowest held-out score whose synthetic precision
  (score >= t) reaches ``target_precision``, which maximizes synthetic recall at
  that precision; if no threshold reaches it, fall back to max F1.

Why max F1 by default: a missed synthetic record below the threshold can end
up ``human_presumed`` and inflate the human share, and a precision target read
off a held-out set of a hundred or so records is a cliff: on the demo corpus
(AUROC 0.977) precision >= 0.95 forced a threshold of 0.99 and let 33 of 60
crawled synthetic records through, where max F1 let 3 through.

Version: first 12 hex of sha256 over the sorted (id, label) pairs, the model
parameters, the feature-code version and the scikit-learn version. Models are
saved as ``detector-<version>.joblib`` under the models dir and reused when the
same version is asked for again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from anchormix.configtools import reject_unknown, take_number, take_str
from anchormix.errors import ConfigError

FEATURE_VERSION = "char_wb1-5+style16-v1"
THRESHOLD_POLICIES = ("target_precision", "max_f1")
# Settings that change the fitted model or its threshold; the rest (floor, date
# cutoff) only change how the result is used, so they must not force a retrain.
_MODEL_PARAMS = ("min_per_class", "test_fraction", "threshold_policy", "target_precision", "seed",
                 "max_features", "c")


@dataclass(frozen=True)
class DetectorSettings:
    """``[detector]``: training, threshold policy and the health floor."""

    auroc_floor: float = 0.85
    min_per_class: int = 20
    test_fraction: float = 0.25
    threshold_policy: str = "max_f1"
    target_precision: float = 0.95
    seed: int = 0
    presume_human_before: date | None = None
    max_features: int = 200_000
    c: float = 4.0

    @classmethod
    def from_mapping(cls, data: dict, prefix: str = "detector") -> "DetectorSettings":
        """Validate a ``[detector]`` mapping; errors name the dotted key."""
        reject_unknown(data, [f.name for f in cls.__dataclass_fields__.values()], prefix)
        cutoff = take_str(data, "presume_human_before", prefix, None) if not isinstance(
            data.get("presume_human_before"), date) else data["presume_human_before"]
        if isinstance(cutoff, str):
            try:
                cutoff = date.fromisoformat(cutoff)
            except ValueError:
                raise ConfigError(f"{prefix}.presume_human_before", f"must be YYYY-MM-DD, got {cutoff!r}") from None
        return cls(
            auroc_floor=float(take_number(data, "auroc_floor", prefix, 0.85, lo=0.5, hi=1.0)),
            min_per_class=take_number(data, "min_per_class", prefix, 20, lo=2, integer=True),
            test_fraction=float(take_number(data, "test_fraction", prefix, 0.25, lo=0.05, hi=0.9)),
            threshold_policy=take_str(data, "threshold_policy", prefix, "max_f1",
                                      choices=THRESHOLD_POLICIES),
            target_precision=float(take_number(data, "target_precision", prefix, 0.95, lo=0.5, hi=1.0)),
            seed=take_number(data, "seed", prefix, 0, integer=True),
            presume_human_before=cutoff,
            max_features=take_number(data, "max_features", prefix, 200_000, lo=1000, integer=True),
            c=float(take_number(data, "c", prefix, 4.0, lo=1e-4, hi=1e4)),
        )

    def model_params(self) -> dict[str, Any]:
        """The settings that determine the fitted model (and so its version)."""
        return {k: getattr(self, k) for k in _MODEL_PARAMS}


_WORD = re.compile(r"[A-Za-z']+|\d+")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_PUNCT = [",", ".", ";:", "!?", "\"'\u2018\u2019\u201c\u201d", "()[]", "-\u2013\u2014"]
N_STYLE = 16


def stylometric_features(texts) -> np.ndarray:
    """One row of ``N_STYLE`` stylometric features per text (module-level so the model pickles)."""
    rows = np.zeros((len(texts), N_STYLE), dtype=float)
    for i, text in enumerate(texts):
        text = text if isinstance(text, str) else ""
        n_chars = max(1, len(text))
        words = _WORD.findall(text)
        lowered = [w.lower() for w in words]
        n_words = max(1, len(words))
        sentences = [s for s in (m.group().strip() for m in _SENTENCE.finditer(text)) if s]
        lengths = np.array([len(_WORD.findall(s)) for s in sentences] or [0], dtype=float)
        head = lowered[:200]  # TTR falls with length; a fixed window keeps it comparable
        rows[i, 0] = np.log1p(len(words))
        rows[i, 1] = len(set(head)) / max(1, len(head))
        rows[i, 2] = sum(map(len, words)) / n_words
        rows[i, 3] = lengths.mean()
        rows[i, 4] = lengths.std()
        for j, chars in enumerate(_PUNCT):
            rows[i, 5 + j] = sum(text.count(c) for c in chars) / n_chars
        rows[i, 12] = sum(c.isdigit() for c in text) / n_chars
        rows[i, 13] = sum(c.isupper() for c in text) / n_chars
        rows[i, 14] = text.count("\n") / n_chars
        rows[i, 15] = sum(1 for w in words if w == "i") / n_words  # lower-case "i": a human slip
    return rows


def build_model(settings: DetectorSettings):
    """The unfitted scikit-learn pipeline: TF-IDF + scaled stylometry -> logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    features = FeatureUnion([
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), sublinear_tf=True, min_df=2,
                                  max_features=settings.max_features, dtype=np.float32)),
        ("style", make_pipeline(FunctionTransformer(stylometric_features), StandardScaler())),
    ])
    return Pipeline([("features", features),
                     ("clf", LogisticRegression(C=settings.c, class_weight="balanced", max_iter=3000))])


def split_by_id(ids, labels, test_fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of held-out rows: per class, the ``test_fraction`` with the smallest seeded id hash."""
    ids = [str(i) for i in ids]
    labels = np.asarray(labels)
    keys = np.array([int(hashlib.sha256(f"{seed}:{i}".encode()).hexdigest()[:15], 16) for i in ids])
    test = np.zeros(len(ids), dtype=bool)
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        n_test = min(len(idx) - 1, max(1, int(round(test_fraction * len(idx)))))
        test[idx[np.argsort(keys[idx], kind="stable")[:n_test]]] = True
    return test


def calibrate_threshold(y_true, scores, policy: str = "max_f1",
                        target_precision: float = 0.95) -> dict[str, Any]:
    """Pick the decision threshold on held-out scores; return threshold, precision, recall, rule."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(np.asarray(y_true), np.asarray(scores))
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    rule = "max_f1"
    if policy == "target_precision":
        ok = np.flatnonzero(precision >= target_precision)
        if ok.size:
            best = ok[np.argmax(recall[ok])]
            rule = f"max recall at precision >= {target_precision}"
        else:
            best = int(np.argmax(f1))
            rule = f"max_f1 (no threshold reached precision {target_precision})"
    else:
        best = int(np.argmax(f1))
    return {"threshold": float(thresholds[best]), "precision": float(precision[best]),
            "recall": float(recall[best]), "threshold_rule": rule}


def model_version(ids, labels, settings: DetectorSettings) -> str:
    """Short hash of training ids+labels, model params, feature code and sklearn version."""
    import sklearn

    pairs = sorted(zip(map(str, ids), map(int, labels)))
    payload = json.dumps({"pairs": pairs, "params": settings.model_params(), "features": FEATURE_VERSION,
                          "sklearn": sklearn.__version__}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


@dataclass
class Detector:
    """A fitted detector: ``score`` gives P(synthetic); ``threshold`` splits suspected from not."""

    version: str
    threshold: float
    model: Any
    report: dict[str, Any] = field(default_factory=dict)

    def score(self, texts) -> np.ndarray:
        """P(synthetic) for each text."""
        texts = list(texts)
        if not texts:
            return np.zeros(0)
        return self.model.predict_proba(texts)[:, 1]

    def save(self, model_dir: Path) -> Path:
        """Write ``detector-<version>.joblib`` under ``model_dir``."""
        import joblib

        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        path = model_path(model_dir, self.version)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        joblib.dump({"version": self.version, "threshold": self.threshold, "model": self.model,
                     "report": self.report}, tmp)
        tmp.replace(path)  # a crash mid-write must not leave a half model under the real name
        return path


def model_path(model_dir: Path, version: str) -> Path:
    """Where the model of ``version`` lives."""
    return Path(model_dir) / f"detector-{version}.joblib"


def load_detector(model_dir: Path, version: str) -> Detector:
    """Load a saved detector by version; FileNotFoundError if it was never saved."""
    import joblib

    blob = joblib.load(model_path(model_dir, version))
    return Detector(version=blob["version"], threshold=blob["threshold"], model=blob["model"], report=blob["report"])


def untrained_report(reason: str, n_train: int = 0, n_test: int = 0) -> dict[str, Any]:
    """The detector report when no model could be trained."""
    return {"trained": False, "trusted": False, "reason": reason, "version": None, "heldout_auroc": None,
            "threshold": None, "precision": None, "recall": None, "n_train": n_train, "n_test": n_test,
            "threshold_rule": None}


def train_detector(ids, texts, labels, settings: DetectorSettings,
                   model_dir: Path | None = None) -> tuple[Detector | None, dict[str, Any]]:
    """Fit, evaluate and (with ``model_dir``) save a detector. ``labels``: 1 synthetic, 0 human.

    Returns ``(detector, report)``; ``detector`` is None when there are too few
    labelled records (``report["reason"]`` says why). ``report["trusted"]`` is
    whether the held-out AUROC reaches ``settings.auroc_floor``.
    """
    from sklearn.metrics import roc_auc_score

    ids, texts, labels = list(map(str, ids)), list(texts), np.asarray(labels, dtype=int)
    n_syn, n_hum = int(labels.sum()), int((labels == 0).sum())
    if min(n_syn, n_hum) < settings.min_per_class:
        return None, untrained_report(
            f"too few labelled records: {n_hum} human_verified and {n_syn} synthetic_declared "
            f"(need {settings.min_per_class} of each)")
    version = model_version(ids, labels, settings)
    if model_dir is not None and model_path(model_dir, version).is_file():
        detector = load_detector(model_dir, version)
        return detector, _with_floor(detector.report, settings)
    test = split_by_id(ids, labels, settings.test_fraction, settings.seed)
    train_idx, test_idx = np.flatnonzero(~test), np.flatnonzero(test)
    model = build_model(settings).fit([texts[i] for i in train_idx], labels[train_idx])
    scores = model.predict_proba([texts[i] for i in test_idx])[:, 1]
    y_test = labels[test_idx]
    cal = calibrate_threshold(y_test, scores, settings.threshold_policy, settings.target_precision)
    report = {"trained": True, "reason": "trained", "version": version,
              "heldout_auroc": float(roc_auc_score(y_test, scores)), **cal,
              "n_train": int(train_idx.size), "n_test": int(test_idx.size)}
    detector = Detector(version=version, threshold=cal["threshold"], model=model, report=report)
    if model_dir is not None:
        detector.save(model_dir)
    return detector, _with_floor(report, settings)


def _with_floor(report: dict[str, Any], settings: DetectorSettings) -> dict[str, Any]:
    trusted = bool(report.get("trained")) and report["heldout_auroc"] >= settings.auroc_floor
    out = {**report, "trusted": trusted, "auroc_floor": settings.auroc_floor}
    if report.get("trained") and not trusted:
        out["reason"] = f"held-out AUROC {report['heldout_auroc']:.3f} below floor {settings.auroc_floor}"
    return out
