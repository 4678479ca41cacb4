"""capture_date and registry evidence, including the missing-value flavours of a DataFrame."""

from __future__ import annotations

from datetime import date, datetime, timezone

import numpy as np
import pandas as pd
import pytest

from anchormix.provenance.capture import capture_date_evidence, registry_evidence
from anchormix.provenance.detector import DetectorSettings
from anchormix.provenance.labeler import label_records
from anchormix.provenance.manifest import verify_manifest

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
CUTOFF = date(2022, 11, 30)


@pytest.mark.parametrize("fetched, cutoff, verdict", [
    (None, None, "missing"), (float("nan"), None, "missing"), (pd.NA, CUTOFF, "missing"), ("", None, "missing"),
    ("last tuesday", None, "unparseable"),
    ("2026-05-01T00:00:00+00:00", None, "dated"),
    ("2026-05-01", None, "dated"),
    ("2027-01-01T00:00:00+00:00", None, "future"),
    ("2021-06-01T00:00:00Z", CUTOFF, "before_cutoff"),
    ("2022-11-30T00:00:00+00:00", CUTOFF, "after_cutoff"),
    (datetime(2020, 1, 1), CUTOFF, "before_cutoff"),
])
def test_capture_date_verdicts(fetched, cutoff, verdict):
    ev = capture_date_evidence("r", fetched, cutoff, now=NOW)
    assert (ev.signal, ev.verdict) == ("capture_date", verdict)
    assert ("presume_human_before=2022-11-30" in ev.ref) == (cutoff is not None)


def test_registry_evidence(registry):
    ev = registry_evidence("r", "archive", registry)
    assert (ev.value, ev.verdict, ev.ref) == ("licensed_human_archive/PSF-2.0/high", "registered", "archive")
    assert registry_evidence("r", "nowhere", registry).verdict == "unregistered"
    assert registry_evidence("r", None, registry).verdict == "unregistered"


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA])
def test_missing_cells_are_absent_not_malformed(missing, registry, human_docs, tmp_path):
    assert verify_manifest(missing, human_docs[0], "archive", registry).verdict == "absent"
    frame = pd.DataFrame({"id": ["a"], "source": ["crawl"], "norm_text": [human_docs[0]], "content_hash": ["x"],
                          "fetched_at": [missing], "manifest": [missing], "media_path": [missing]},
                         dtype="object").astype({"fetched_at": "string", "manifest": "string", "media_path": "string"})
    result = label_records(frame, registry, DetectorSettings(), tmp_path)
    verdicts = dict(zip(result.evidence.signal, result.evidence.verdict))
    assert verdicts == {"registry": "registered", "text_manifest": "absent", "capture_date": "missing"}
    assert result.classes["class"].tolist() == ["unknown"]
