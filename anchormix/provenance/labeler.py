"""Label records: gather evidence, classify, train (or keep) the detector, assess the unknowns.

The entry point the provenance stage calls, with every unique record so far:
the detector trains on the whole confidently labelled history, but only when
that history has grown enough (or on a schedule), and a record is only assessed
again when its text or the model version changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anchormix.evidence import EVIDENCE_COLUMNS, Evidence
from anchormix.provenance.capture import capture_date_evidence, registry_evidence
from anchormix.provenance.classify import CONFIDENT_CLASSES, classify
from anchormix.provenance.detector import (
    Assessment,
    Detector,
    DetectorSettings,
    _text_hash,
    cap_per_class,
    default_embedder,
    load_detector,
    model_path,
    retrain_decision,
    train_detector,
    usable_for_training,
    with_health,
)
from anchormix.provenance.detector_features import Embedder, text_of
from anchormix.provenance.manifest import verify_manifest
from anchormix.provenance.media import read_c2pa_evidence
from anchormix.provenance.registry import Registry

SCORE_CHUNK = 4096
RECORD_COLUMNS = ("id", "source", "norm_text", "content_hash", "fetched_at", "manifest", "media_path")
CLASS_COLUMNS = ("id", "class", "reason")


@dataclass
class LabelResult:
    """Evidence rows (``EVIDENCE_COLUMNS``), one class per record, and the detector report."""

    evidence: pd.DataFrame
    classes: pd.DataFrame
    detector: dict[str, Any]


def _clean(value: object) -> object:
    """None for every flavour of missing a DataFrame cell can hold (None, NaN, pd.NA, NaT, "")."""
    if value is None:
        return None
    if isinstance(value, str):  # most cells: answered without pandas
        return value if value.strip() else None
    try:
        return None if pd.isna(value) else value
    except (TypeError, ValueError):  # array-likes: not a missing scalar
        return value


def record_evidence(row: dict, registry: Registry, settings: DetectorSettings) -> list[Evidence]:
    """Every pre-detector signal for one record: registry, text manifest, C2PA, capture date."""
    row = {k: _clean(v) for k, v in row.items()}
    rid, source = str(row["id"]), row["source"]
    evidence = [registry_evidence(rid, source, registry)]
    evidence.append(verify_manifest(row.get("manifest"), row["norm_text"] or "", source, registry).to_evidence(rid))
    media = row.get("media_path")
    if media is not None:
        entry = registry.get(source)
        try:
            anchors = entry.trust_anchors_pem() if entry else None
        except OSError:
            anchors = None  # anchors vanished since load: every signer is then untrusted
        evidence.extend(read_c2pa_evidence(rid, str(media), anchors))
    evidence.append(capture_date_evidence(rid, row.get("fetched_at"), settings.presume_human_before))
    return evidence


class MemoryScoreCache:
    """Detector verdicts keyed by (content hash, model version), in memory (the stage keeps them in DuckDB)."""

    def __init__(self):
        self.rows: dict[tuple[str, str], Assessment] = {}

    def get(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Assessment]:
        return {k: self.rows[k] for k in keys if k in self.rows}

    def put(self, items: list[tuple[tuple[str, str], Assessment]]) -> None:
        self.rows.update(items)


def _memo_embedder(embed: Embedder | None) -> Embedder:
    """``embed`` (default: the model, uncached) memoised by content hash for the length of one call."""
    base = embed or default_embedder()
    memo: dict[str, np.ndarray] = {}

    def wrapped(hashes, texts):
        todo = {h: t for h, t in zip(hashes, texts) if h not in memo}
        if todo:
            memo.update(zip(todo, base(list(todo), list(todo.values()))))
        return np.stack([memo[h] for h in hashes]) if hashes else np.zeros((0, 0), dtype=np.float32)

    return wrapped


class _TrainingSet:
    """The confident records (tonight's and, incrementally, the stored ones), reading stored texts only on need."""

    def __init__(self, ids, labels, sources, hashes, texts, read=None, known=()):
        self.ids, self.labels, self.sources, self.hashes = list(ids), list(labels), list(sources), list(hashes)
        self.texts = list(texts) + [None] * (len(self.ids) - len(texts))
        self.loaded = [True] * len(texts) + [False] * (len(self.ids) - len(texts))
        self.read, self.known = read, set(known)
        self._usable: dict[int, list[int]] = {}  # by min_words: the retrain decision and the sample both ask

    def _load(self, rows: list[int]) -> None:
        if rows:
            got = self.read([self.ids[i] for i in rows])
            for i in rows:
                self.texts[i], self.loaded[i] = text_of(_clean(got.get(self.ids[i]))), True

    def usable_rows(self, min_words: int) -> list[int]:
        """Rows long enough to train on. A stored record the previous model trained on was usable then and
        its text (so its hash) has not changed, so its text is not read."""
        if min_words in self._usable:
            return self._usable[min_words]
        keys = list(zip(self.hashes, map(int, self.labels)))
        self._load([i for i, k in enumerate(keys) if not self.loaded[i] and k not in self.known])
        loaded = [i for i in range(len(keys)) if self.loaded[i]]
        usable = dict(zip(loaded, usable_for_training([self.texts[i] for i in loaded], min_words)))
        self._usable[min_words] = [i for i in range(len(keys)) if usable.get(i, True)]
        return self._usable[min_words]

    def usable_keys(self, min_words: int) -> list[tuple[str, int]]:
        """(content hash, label) of the usable rows."""
        return [(self.hashes[i], int(self.labels[i])) for i in self.usable_rows(min_words)]

    def sample(self, settings: DetectorSettings) -> dict[str, list]:
        """The records training uses: usable, at most ``max_train_per_class`` per class by seeded id hash (the
        rule :func:`~anchormix.provenance.detector.train_detector` applies); only their texts are read."""
        rows = self.usable_rows(settings.min_words)
        n_confident = len({(self.hashes[i], int(self.labels[i])) for i in rows})
        keep = cap_per_class([self.ids[i] for i in rows], [self.labels[i] for i in rows],
                             settings.max_train_per_class, settings.seed)
        rows = [i for i, ok in zip(rows, keep) if ok]
        self._load([i for i in rows if not self.loaded[i]])
        return {"n_confident": n_confident, "ids": [self.ids[i] for i in rows], "texts": [self.texts[i] for i in rows],
                "labels": [self.labels[i] for i in rows], "sources": [self.sources[i] for i in rows],
                "content_hashes": [self.hashes[i] for i in rows]}


def _training_set(classes, texts, hashes, sources, history, previous) -> _TrainingSet:
    confident = [rid for rid, (c, _) in classes.items() if c in CONFIDENT_CLASSES]
    ids, labels = list(confident), [int(classes[rid][0] == "synthetic_declared") for rid in confident]
    srcs, hs = [sources[rid] for rid in confident], [hashes[rid] for rid in confident]
    read = None
    if history is not None and len(history.confident):
        h = history.confident
        ids += h["id"].astype(str).tolist()
        labels += h["label"].astype(int).tolist()
        srcs += h["source"].fillna("").astype(str).tolist()
        hs += h["content_hash"].astype(str).tolist()
        read = history.texts
    return _TrainingSet(ids, labels, srcs, hs, [texts[rid] for rid in confident], read,
                        previous.training_keys if previous is not None else ())


@dataclass
class LabelHistory:
    """What the store already holds for records labelled on earlier nights, so a night labels only its own.

    A record's pre-detector evidence (registry, manifests, C2PA, capture date)
    depends only on its text and on the registry and settings, so it is kept
    between nights; only its detector verdict can change, with the model.

    ``confident``: stored ``human_verified`` / ``synthetic_declared`` records
    (columns ``id``, ``content_hash``, ``label`` 1 = synthetic, ``source``);
    they join tonight's confident records in the training set.
    ``texts(ids)``: id -> text, read only for what needs a text (training,
    the usability of a record the model did not train on, a verdict not yet
    cached). ``stale(version)``: for the records whose class depends on the
    detector and was made with another model than ``version`` (None: no model),
    their content hashes (``id``, ``content_hash``) and their stored
    pre-detector evidence rows (``EVIDENCE_COLUMNS``).
    """

    confident: pd.DataFrame
    texts: Callable[[list[str]], dict[str, Any]]
    stale: Callable[[str | None], tuple[pd.DataFrame, pd.DataFrame]]
    # Stale records ``stale`` left for a later night (a bounded night re-assesses only part of them).
    deferred: int = 0


Scorer = Callable[[Detector, list, list, Embedder], list[Assessment]]


def score_in_process(detector: Detector, texts: list, hashes: list, embed: Embedder) -> list[Assessment]:
    """``detector``'s verdict per text, in this process, in chunks of :data:`SCORE_CHUNK`."""
    # In chunks: a chunk's char n-gram matrix is the largest allocation, and its size would otherwise follow
    # the drop (about 1 GB for 50k texts).
    return [a for lo in range(0, len(texts), SCORE_CHUNK)
            for a in detector.assess(texts[lo:lo + SCORE_CHUNK], hashes[lo:lo + SCORE_CHUNK], embed)]


def label_records(records: pd.DataFrame, registry: Registry, settings: DetectorSettings, model_dir: Path, *,
                  embed: Embedder | None = None, score_cache=None, previous_version: str | None = None,
                  today: str | None = None, embedding_settings=None,
                  history: LabelHistory | None = None, scorer: Scorer | None = None) -> LabelResult:
    """Label every record of ``records`` (columns ``RECORD_COLUMNS``).

    Evidence is gathered and classified first. The records classed
    ``human_verified`` / ``synthetic_declared`` (the confident set) train the
    detector, unless the model ``previous_version`` still stands
    (:func:`~anchormix.provenance.detector.retrain_decision`). Every ``unknown``
    record then gets a detector verdict: read from ``score_cache`` when its
    (content hash, model version) was assessed before, assessed otherwise
    (``suspected``, ``below_threshold``, or ``abstained`` with a reason), and is
    classified again, the verdict trusted only when the detector is healthy.
    ``embed(content_hashes, texts)`` gives sentence vectors (default: the
    embedding model, uncached).

    With ``history``, ``records`` are only tonight's records: the stored
    confident records count towards (re)training, and the stored records whose
    class depends on a model other than tonight's are classified again from
    their kept evidence. The result then holds tonight's records and those.

    ``scorer(detector, texts, hashes, embed)`` assesses the texts that need a
    verdict (default: :func:`score_in_process`; the provenance stage passes one
    that runs on the pipeline's engine).
    """
    missing = [c for c in ("id", "source", "norm_text") if c not in records.columns]
    if missing:
        raise ValueError(f"records lack column(s): {', '.join(missing)}")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    rows = records.to_dict(orient="records")
    evidence = {str(r["id"]): record_evidence(r, registry, settings) for r in rows}
    texts = {str(r["id"]): text_of(_clean(r["norm_text"])) for r in rows}
    hashes = {str(r["id"]): (_clean(r.get("content_hash")) or _text_hash(texts[str(r["id"])])) for r in rows}
    sources = {str(r["id"]): str(_clean(r["source"]) or "") for r in rows}
    classes = {rid: classify(ev) for rid, ev in evidence.items()}
    timings["evidence_s"] = time.perf_counter() - started

    started = time.perf_counter()
    embed = _memo_embedder(embed)
    previous = None
    if previous_version and model_path(model_dir, previous_version).is_file():
        previous = load_detector(model_dir, previous_version)
    training = _training_set(classes, texts, hashes, sources, history, previous)
    retrain, why = retrain_decision(previous, training.usable_keys(settings.min_words), settings, today)
    if retrain:
        chosen = training.sample(settings)
        detector, report = train_detector(
            chosen["ids"], chosen["texts"], chosen["labels"], settings, model_dir, sources=chosen["sources"],
            content_hashes=chosen["content_hashes"], embed=embed, embedding_settings=embedding_settings,
            trained_on=today, n_confident=chosen["n_confident"])
    else:
        detector, report = previous, with_health(previous.report, settings)
    report = {**report, "retrained": bool(retrain and detector is not None), "retrain_reason": why}
    timings["train_s"] = time.perf_counter() - started

    started = time.perf_counter()
    n_history, tonight = 0, set(texts)
    if history is not None:
        stale, kept = history.stale(detector.version if detector is not None else None)
        n_history = len(stale)
        kept_by_id = {rid: [] for rid in stale["id"].astype(str)}
        for e in kept.itertuples(index=False):
            kept_by_id.setdefault(str(e.record_id), []).append(
                Evidence(str(e.record_id), e.signal, e.value, e.verdict, e.ref or ""))
        for rid, h in zip(stale["id"].astype(str), stale["content_hash"]):
            evidence[rid], hashes[rid] = kept_by_id[rid], h
            classes[rid] = classify(evidence[rid])
    cache = score_cache if score_cache is not None else MemoryScoreCache()
    report.update(n_scored=0, n_score_cached=0, n_abstained=0, n_history_relabelled=n_history,
                  n_history_deferred=history.deferred if history is not None else 0)
    if detector is not None:
        unknown = [rid for rid, (c, _) in classes.items() if c == "unknown"]
        wanted = [(hashes[rid], detector.version) for rid in unknown]
        known = cache.get(list(dict.fromkeys(wanted)))
        n_cached = sum(1 for key in wanted if key in known)
        todo = list(dict.fromkeys(rid for rid, key in zip(unknown, wanted) if key not in known))
        if todo:
            todo = list({hashes[rid]: rid for rid in todo}.values())  # one assessment per distinct text
            unread = [rid for rid in todo if rid not in tonight]
            if unread:
                texts.update({rid: text_of(_clean(t)) for rid, t in history.texts(unread).items()})
            fresh = (scorer or score_in_process)(detector, [texts[rid] for rid in todo],
                                                 [hashes[rid] for rid in todo], embed)
            new = [((hashes[rid], detector.version), a) for rid, a in zip(todo, fresh)]
            cache.put(new)
            known.update(new)
        for rid, key in zip(unknown, wanted):
            a = known[key]
            evidence[rid].append(Evidence(rid, "detector", a.value, a.verdict, detector.version))
            classes[rid] = classify(evidence[rid], detector_trusted=report["trusted"])
        report.update(n_scored=len(todo), n_score_cached=n_cached,
                      n_abstained=sum(1 for key in wanted if known[key].verdict == "abstained"))
    timings["score_s"] = time.perf_counter() - started
    report["timings"] = timings

    ev_frame = pd.DataFrame([e.as_tuple() for ev in evidence.values() for e in ev], columns=list(EVIDENCE_COLUMNS))
    cls_frame = pd.DataFrame([(rid, c, why) for rid, (c, why) in classes.items()], columns=list(CLASS_COLUMNS))
    return LabelResult(evidence=ev_frame, classes=cls_frame, detector=report)
