"""The evidence row: one signal about one record's provenance."""

from __future__ import annotations

from dataclasses import dataclass

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
        # Not dataclasses.asdict, which deep-copies every field: a 100k drop has about 350k evidence rows.
        return {"record_id": self.record_id, "signal": self.signal, "value": self.value, "verdict": self.verdict,
                "ref": self.ref}

    def as_tuple(self) -> tuple:
        """The row in ``EVIDENCE_COLUMNS`` order."""
        return (self.record_id, self.signal, self.value, self.verdict, self.ref)
