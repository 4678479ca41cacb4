"""The class precedence, table-driven: each row is one rule of classify's docstring."""

from __future__ import annotations

import pytest

from anchormix.evidence import Evidence
from anchormix.provenance.classify import PROVENANCE_CLASSES, classify

ARCHIVE_HIGH = ("registry", "licensed_human_archive/PSF-2.0/high", "registered", "archive")
ARCHIVE_MED = ("registry", "licensed_human_archive/CC-BY/SA-4.0/medium", "registered", "other")
CRAWL = ("registry", "web_crawl/mixed/medium", "registered", "crawl")
CRAWL_LOW = ("registry", "web_crawl/mixed/low", "registered", "crawl")
GEN = ("registry", "generator/Apache-2.0/high", "registered", "gen")
UNREG = ("registry", "", "unregistered", "nowhere")
NO_TEXT = ("text_manifest", "", "absent", "")
TEXT_HUMAN = ("text_manifest", "digitalCapture", "verified", "key_id=k")
TEXT_SYN = ("text_manifest", "trainedAlgorithmicMedia", "verified", "key_id=k")
C2PA_HUMAN = ("c2pa", "digitalCapture", "verified", "")
C2PA_SYN = ("c2pa", "trainedAlgorithmicMedia", "verified", "")
C2PA_UNTRUSTED_HUMAN = ("c2pa", "digitalCapture", "untrusted", "")
C2PA_UNTRUSTED_SYN = ("c2pa", "compositeWithTrainedAlgorithmicMedia", "untrusted", "")
C2PA_INVALID = ("c2pa", "digitalCapture", "invalid", "")
DATED = ("capture_date", "2026-01-01T00:00:00+00:00", "dated", "")
BEFORE = ("capture_date", "2021-01-01T00:00:00+00:00", "before_cutoff", "")
AFTER = ("capture_date", "2025-01-01T00:00:00+00:00", "after_cutoff", "")
MISSING = ("capture_date", "", "missing", "")
HIGH_SCORE = ("detector", "0.9700", "suspected", "v1")
LOW_SCORE = ("detector", "0.0100", "below_threshold", "v1")


def text_fail(verdict):
    return ("text_manifest", "digitalCapture", verdict, "")


TABLE = [
    # rule 1: verified synthetic declaration beats everything, even a high-trust archive
    ([ARCHIVE_HIGH, TEXT_SYN, DATED], True, "synthetic_declared"),
    ([ARCHIVE_HIGH, TEXT_HUMAN, C2PA_SYN], True, "synthetic_declared"),
    # rule 2: generator source, even with a verified human manifest
    ([GEN, TEXT_HUMAN, DATED], True, "synthetic_declared"),
    ([GEN, NO_TEXT, LOW_SCORE, DATED], True, "synthetic_declared"),
    # rule 3: a failed manifest rules out human, whatever else is present
    *[([ARCHIVE_HIGH, text_fail(v), DATED], True, "unknown")
      for v in ("malformed", "source_mismatch", "unknown_key", "bad_signature", "hash_mismatch")],
    ([ARCHIVE_HIGH, TEXT_HUMAN, C2PA_INVALID, DATED], True, "unknown"),
    ([CRAWL, text_fail("hash_mismatch"), LOW_SCORE, DATED], True, "unknown"),
    ([CRAWL, text_fail("bad_signature"), HIGH_SCORE, DATED], True, "synthetic_suspected"),
    ([CRAWL, text_fail("bad_signature"), HIGH_SCORE, DATED], False, "unknown"),
    # rule 4: an unverified synthetic C2PA claim keeps the record out of the human share
    ([ARCHIVE_HIGH, NO_TEXT, C2PA_UNTRUSTED_SYN, DATED], True, "synthetic_suspected"),
    # rule 5: the only road to human_verified
    ([ARCHIVE_HIGH, TEXT_HUMAN, DATED], True, "human_verified"),
    ([CRAWL, NO_TEXT, C2PA_HUMAN, MISSING], True, "human_verified"),
    ([ARCHIVE_HIGH, TEXT_HUMAN, HIGH_SCORE], True, "human_verified"),
    # an untrusted human C2PA claim is no verification
    ([CRAWL, NO_TEXT, C2PA_UNTRUSTED_HUMAN, MISSING], True, "unknown"),
    # rule 6: unsigned high-trust licensed archive
    ([ARCHIVE_HIGH, NO_TEXT, MISSING], True, "human_presumed"),
    ([ARCHIVE_MED, NO_TEXT, MISSING], True, "unknown"),
    # rule 7: detector flags
    ([CRAWL, NO_TEXT, HIGH_SCORE, DATED], True, "synthetic_suspected"),
    ([UNREG, NO_TEXT, HIGH_SCORE, MISSING], True, "synthetic_suspected"),
    ([ARCHIVE_MED, NO_TEXT, HIGH_SCORE, BEFORE], True, "synthetic_suspected"),
    # rule 8: below threshold needs a trusted date and a registered medium/high source
    ([CRAWL, NO_TEXT, LOW_SCORE, DATED], True, "human_presumed"),
    ([ARCHIVE_MED, NO_TEXT, LOW_SCORE, BEFORE], True, "human_presumed"),
    ([CRAWL, NO_TEXT, LOW_SCORE, AFTER], True, "unknown"),
    ([CRAWL, NO_TEXT, LOW_SCORE, MISSING], True, "unknown"),
    ([CRAWL_LOW, NO_TEXT, LOW_SCORE, DATED], True, "unknown"),
    ([UNREG, NO_TEXT, LOW_SCORE, DATED], True, "unknown"),
    # an untrusted detector produces neither suspected nor presumed
    ([CRAWL, NO_TEXT, HIGH_SCORE, DATED], False, "unknown"),
    ([CRAWL, NO_TEXT, LOW_SCORE, DATED], False, "unknown"),
    # ...but does not undo labels that never relied on it
    ([ARCHIVE_HIGH, TEXT_HUMAN, LOW_SCORE], False, "human_verified"),
    ([ARCHIVE_HIGH, NO_TEXT, HIGH_SCORE], False, "human_presumed"),
    # rule 9
    ([CRAWL, NO_TEXT, DATED], True, "unknown"),
    ([UNREG, NO_TEXT, MISSING], True, "unknown"),
]


@pytest.mark.parametrize("rows, trusted, expected", TABLE, ids=[f"{i:02d}-{t[2]}" for i, t in enumerate(TABLE)])
def test_precedence(rows, trusted, expected):
    evidence = [Evidence("r", *row) for row in rows]
    cls, reason = classify(evidence, detector_trusted=trusted)
    assert cls == expected, reason
    assert cls in PROVENANCE_CLASSES and reason


def test_reason_names_the_failed_manifest():
    cls, reason = classify([Evidence("r", *ARCHIVE_HIGH), Evidence("r", *text_fail("hash_mismatch"))])
    assert cls == "unknown" and "hash_mismatch" in reason


def test_order_of_evidence_rows_does_not_matter():
    rows = [CRAWL, text_fail("bad_signature"), HIGH_SCORE, DATED]
    forward = classify([Evidence("r", *r) for r in rows])
    backward = classify([Evidence("r", *r) for r in reversed(rows)])
    assert forward == backward
