"""Turn a record's evidence into one provenance class and a readable reason.

Precedence (the first rule that matches wins):

1. ``synthetic_declared``: a *verified* manifest (``text_manifest`` or
   ``c2pa`` verdict ``verified``) declares a synthetic digitalSourceType.
2. ``synthetic_declared``: the registered source is of kind ``generator``.
3. A manifest that failed (text verdict ``malformed``, ``source_mismatch``,
   ``unknown_key``, ``bad_signature``, ``hash_mismatch``; c2pa ``invalid``)
   taints the record: it can never be human. It becomes
   ``synthetic_suspected`` if a trusted detector flags it, else ``unknown``
   (the failure is named in the reason and kept as evidence).
4. ``synthetic_suspected``: an *unverified* (``untrusted``) C2PA manifest
   declares a synthetic type. Nobody fakes a synthetic label to look worse,
   so the claim is believed as far as keeping the record out of the human share.
5. ``human_verified``: a verified manifest with a human-origin type, for a
   registered non-generator source. This is the only way to ``human_verified``.
6. ``human_presumed``: the source is a ``licensed_human_archive`` with trust
   tier ``high`` and the record carries no manifest at all.
7. ``synthetic_suspected``: the detector scored at or above its threshold.
8. ``human_presumed``: the detector scored at or below its presume-human
   threshold (verdict ``below_threshold``; a score between that and the flag
   threshold is ``uncertain`` and leaves the record ``unknown``) *and* the
   capture date is trusted (``capture_date`` verdict ``before_cutoff``, or
   ``dated`` when no cutoff is configured) *and* the source is registered with
   trust tier ``high`` or ``medium``.
9. ``unknown``: everything else (the reason says what was missing). A
   detector verdict ``abstained`` (text missing, too short, or in a script or
   language the detector never saw) is no score at all: it can never make a
   record ``synthetic_suspected`` or ``human_presumed``, and the reason names
   the abstention.

When ``detector_trusted`` is False (the detector-health gate is failing),
rules 3, 7 and 8 ignore detector evidence entirely: a record only they would
have labelled stays ``unknown``.
"""

from __future__ import annotations

from collections.abc import Iterable

from anchormix.evidence import Evidence
from anchormix.provenance import sourcetypes

PROVENANCE_CLASSES = ("human_verified", "human_presumed", "synthetic_declared", "synthetic_suspected", "unknown")
HUMAN_CLASSES = ("human_verified", "human_presumed")
CONFIDENT_CLASSES = ("human_verified", "synthetic_declared")

TEXT_FAILURES = frozenset({"malformed", "source_mismatch", "unknown_key", "bad_signature", "hash_mismatch"})
C2PA_FAILURES = frozenset({"invalid"})
TRUSTED_DATES = frozenset({"before_cutoff", "dated"})
MANIFEST_SIGNALS = ("text_manifest", "c2pa")


def parse_registry_value(value: str) -> tuple[str, str, str]:
    """Split a ``registry`` evidence value ``kind/license/tier`` (a license may hold ``/``)."""
    kind, _, rest = value.partition("/")
    license_, _, tier = rest.rpartition("/")
    return kind, license_, tier


def registry_value(kind: str, license_: str, tier: str) -> str:
    """The ``registry`` evidence value for an entry."""
    return f"{kind}/{license_}/{tier}"


def classify(evidence: Iterable[Evidence], detector_trusted: bool = True) -> tuple[str, str]:
    """Apply the module's precedence to one record's evidence; return (class, reason)."""
    evidence = list(evidence)
    reg = next((e for e in evidence if e.signal == "registry"), None)
    registered = reg is not None and reg.verdict == "registered"
    kind, _, tier = parse_registry_value(reg.value) if registered else ("", "", "")
    manifests = [e for e in evidence if e.signal in MANIFEST_SIGNALS]
    verified = [e for e in manifests if e.verdict == "verified"]
    detector = next((e for e in evidence if e.signal == "detector"), None)
    dated = next((e for e in evidence if e.signal == "capture_date"), None)
    flagged = detector_trusted and detector is not None and detector.verdict == "suspected"

    for e in verified:
        if sourcetypes.origin(e.value) == "synthetic":
            return "synthetic_declared", f"verified {_what(e)} declares {e.value}"
    if registered and kind == "generator":
        return "synthetic_declared", f"source {reg.ref} is a registered generator"

    failed = [e for e in manifests if (e.signal == "text_manifest" and e.verdict in TEXT_FAILURES)
              or (e.signal == "c2pa" and e.verdict in C2PA_FAILURES)]
    if failed:
        why = "; ".join(f"{_what(e)} {e.verdict}" for e in failed)
        if flagged:
            return "synthetic_suspected", f"{why}, and detector score {detector.value} >= threshold"
        return "unknown", f"{why}: a failed manifest rules out a human class"

    for e in manifests:
        if e.signal == "c2pa" and e.verdict == "untrusted" and sourcetypes.origin(e.value) == "synthetic":
            return "synthetic_suspected", f"unverified C2PA manifest declares {e.value}"

    for e in verified:
        if sourcetypes.origin(e.value) == "human" and registered:
            return "human_verified", f"verified {_what(e)} declares {e.value} for registered source {reg.ref}"

    has_manifest = any(e.verdict != "absent" for e in manifests)
    if registered and kind == "licensed_human_archive" and tier == "high" and not has_manifest:
        return "human_presumed", f"unsigned record of high-trust licensed human archive {reg.ref}"

    if detector is not None and detector.verdict == "abstained":
        return "unknown", f"detector abstained ({detector.value})"
    if detector is not None and not detector_trusted:
        return "unknown", "detector evidence ignored: the detector is not trusted (health gate failing)"
    if detector is not None and detector.verdict == "uncertain":
        return "unknown", (f"detector score {detector.value} is between the presume-human and flag thresholds "
                           f"({detector.ref}): too close to call")
    if flagged:
        return "synthetic_suspected", f"detector score {detector.value} >= threshold ({detector.ref})"
    if detector is not None and detector.verdict == "below_threshold":
        if not registered:
            return "unknown", "detector score below threshold, but the source is unregistered"
        if tier not in ("high", "medium"):
            return "unknown", f"detector score below threshold, but source trust tier is {tier}"
        if dated is None or dated.verdict not in TRUSTED_DATES:
            seen = "no capture date" if dated is None else f"capture date {dated.verdict}"
            return "unknown", f"detector score below threshold, but {seen}"
        return "human_presumed", (f"detector score {detector.value} below threshold ({detector.ref}) "
                                  f"and capture date {dated.value} {dated.verdict}")
    if not registered:
        return "unknown", "unregistered source and no verified manifest"
    return "unknown", "no verified manifest and no detector score"


def _what(e: Evidence) -> str:
    return "text manifest" if e.signal == "text_manifest" else "C2PA manifest"
