"""The evidence row: one signal about one record's provenance."""

from __future__ import annotations

from dataclasses import asdict, dataclass

EVIDENCE_COLUMNS = ("record_id", "signal", "value", "verdict", "ref")


@dataclass(frozen=True)
class Evidence:
    """One (record, signal) observation.

    ``signal``: what was looked at (``registry``, ``text_manifest``, ``c2pa``,
    ``capture_date``, ``detector``). ``value``: what was seen (a license, a
    score, a digitalSourceType term). ``verdict``: what it means (for example
    ``verified``, ``hash_mismatch``, ``generator``, ``suspected``). ``ref``:
    the key id, manifest, model version or file that produced it.
    """

    record_id: str
    signal: str
    value: str
    verdict: str
    ref: str = ""

    def as_dict(self) -> dict:
        return asdict(self)
