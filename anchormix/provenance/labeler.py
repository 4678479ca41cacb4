"""Label records: gather evidence, classify, train the detector, score the unknowns.

The entry point the Dagster provenance asset calls, with every unique record
so far, so the detector trains on the whole confidently labelled history.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from anchormix.evidence import EVIDENCE_COLUMNS, Evidence
from anchormix.provenance.capture import capture_date_evidence, registry_evidence
from anchormix.provenance.classify import classify
from anchormix.provenance.detector import DetectorSettings, train_detector
from anchormix.provenance.manifest import verify_manifest
from anchormix.provenance.media import read_c2pa_evidence
from anchormix.provenance.registry import Registry

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
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
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


def label_records(records: pd.DataFrame, registry: Registry, settings: DetectorSettings,
                  model_dir: Path) -> LabelResult:
    """Label every record of ``records`` (columns ``RECORD_COLUMNS``).

    Evidence is gathered and classified first; the records then classed
    ``human_verified`` / ``synthetic_declared`` train the detector, which
    scores every ``unknown`` record; those are classified again with the
    detector evidence, trusted only if its held-out AUROC reaches the floor.
    """
    missing = [c for c in ("id", "source", "norm_text") if c not in records.columns]
    if missing:
        raise ValueError(f"records lack column(s): {', '.join(missing)}")
    rows = records.to_dict(orient="records")
    evidence = {str(r["id"]): record_evidence(r, registry, settings) for r in rows}
    texts = {str(r["id"]): _clean(r["norm_text"]) or "" for r in rows}
    classes = {rid: classify(ev) for rid, ev in evidence.items()}

    confident = [(rid, c) for rid, (c, _) in classes.items() if c in ("human_verified", "synthetic_declared")]
    detector, report = train_detector([rid for rid, _ in confident], [texts[rid] for rid, _ in confident],
                                      [int(c == "synthetic_declared") for _, c in confident], settings, model_dir)
    report.setdefault("n_scored", 0)
    if detector is not None:
        unknown = [rid for rid, (c, _) in classes.items() if c == "unknown"]
        scores = detector.score([texts[rid] for rid in unknown])
        for rid, score in zip(unknown, scores):
            verdict = "suspected" if score >= detector.threshold else "below_threshold"
            evidence[rid].append(Evidence(rid, "detector", f"{score:.4f}", verdict, detector.version))
            classes[rid] = classify(evidence[rid], detector_trusted=report["trusted"])
        report["n_scored"] = len(unknown)

    ev_frame = pd.DataFrame([e.as_dict() for ev in evidence.values() for e in ev], columns=list(EVIDENCE_COLUMNS))
    cls_frame = pd.DataFrame([(rid, c, why) for rid, (c, why) in classes.items()], columns=list(CLASS_COLUMNS))
    return LabelResult(evidence=ev_frame, classes=cls_frame, detector=report)
