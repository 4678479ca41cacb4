"""Per-record provenance: source registry, signed manifests, C2PA, detector, classes.

Plain Python (never imports dagster). See :mod:`anchormix.provenance.classify`
for the precedence that turns evidence into a class.
"""

from __future__ import annotations

from anchormix.provenance.classify import PROVENANCE_CLASSES, classify
from anchormix.provenance.detector import (
    Detector,
    DetectorSettings,
    load_detector,
    train_detector,
)
from anchormix.provenance.labeler import LabelResult, label_records
from anchormix.provenance.manifest import (
    ManifestCheck,
    content_hash,
    generate_keypair,
    sign_text,
    verify_manifest,
)
from anchormix.provenance.media import read_c2pa_evidence
from anchormix.provenance.registry import Registry, SourceEntry, load_registry

__all__ = [
    "PROVENANCE_CLASSES", "classify", "Detector", "DetectorSettings", "load_detector", "train_detector",
    "LabelResult", "label_records", "ManifestCheck", "content_hash", "generate_keypair", "sign_text",
    "verify_manifest", "read_c2pa_evidence", "Registry", "SourceEntry", "load_registry", "explain",
]


def explain(record_id, con=None):
    """Trace one record through the store (delegates to :func:`anchormix.lineage.explain`)."""
    from anchormix.lineage import explain as _e

    return _e(record_id, con)
