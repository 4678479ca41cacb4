"""C2PA evidence for a record's media file, read with ``c2pa-python``.

One ``c2pa`` evidence row per file. ``value`` is the short IPTC
digitalSourceType found in the active manifest's ``c2pa.actions`` assertion
(empty when none); ``verdict`` is one of:

``verified``    the manifest validates *and* its signer chains to the source's
                trust anchors (c2pa validation state ``Trusted``)
``untrusted``   the manifest is intact but the signer is not trusted (no
                anchors for the source, or a signer outside them)
``invalid``     validation failed (tampered asset or claim); codes in ``ref``
``absent``      the file carries no C2PA manifest
``unreadable``  the file is missing, is not a regular file (``not_a_regular_file``),
                lies outside the record's drop folder (``outside_drop``) or
                could not be parsed

Only ``verified`` can ever support a human class.

A record's ``media_path`` is untrusted input. Ingest admits it with
:func:`admit_media_path`: a path that resolves inside the drop folder is stored
resolved; any other is stored as ``unreadable:outside_drop:<path as given>``,
which :func:`read_c2pa_evidence` turns into an ``unreadable`` verdict without
touching the file. A FIFO or device is never opened, and the open itself cannot
block.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from anchormix.evidence import Evidence
from anchormix.provenance import sourcetypes
from anchormix.readers import NotRegularFile, open_regular

SIGNAL = "c2pa"
VERDICTS = ("verified", "untrusted", "invalid", "absent", "unreadable")
_ACTION_LABELS = ("c2pa.actions", "c2pa.actions.v2")
REJECTED_PREFIX = "unreadable:"
_REJECTIONS = {"outside_drop": "resolves outside the drop folder; not opened", "bad_path": "not a usable path"}


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def admit_media_path(media_path: str, base: Path, drop_dir: Path) -> str:
    """``media_path`` (relative to ``base``, the record's file folder) resolved,
    or a rejection marker when it resolves outside ``drop_dir``."""
    try:
        resolved = os.path.realpath(base / media_path)  # an absolute media_path replaces base
    except (OSError, ValueError):  # a NUL byte, a name too long
        return f"{REJECTED_PREFIX}bad_path:{media_path}"
    if not _inside(resolved, os.path.realpath(drop_dir)):
        return f"{REJECTED_PREFIX}outside_drop:{media_path}"
    return resolved


def read_c2pa_evidence(record_id: str, path: str | Path, trust_anchors_pem: str | None,
                       drop_dir: Path | None = None) -> list[Evidence]:
    """Validate the C2PA manifest of ``path`` against ``trust_anchors_pem``; never raises.

    With ``drop_dir``, a path resolving outside it is ``unreadable`` (``outside_drop``) unopened.
    """
    if str(path).startswith(REJECTED_PREFIX):
        reason, _, given = str(path)[len(REJECTED_PREFIX):].partition(":")
        return [Evidence(record_id, SIGNAL, "", "unreadable", f"file={given}; {reason}: {_REJECTIONS.get(reason, '')}")]
    path = Path(path)
    ref = f"file={path}"
    if drop_dir is not None and admit_media_path(str(path), Path(), drop_dir).startswith(REJECTED_PREFIX):
        return [Evidence(record_id, SIGNAL, "", "unreadable", f"{ref}; outside_drop: {_REJECTIONS['outside_drop']}")]
    try:
        import c2pa
    except ImportError as exc:  # the library is a dependency; say so rather than pass silently
        return [Evidence(record_id, SIGNAL, "", "unreadable", f"{ref}; c2pa-python unavailable: {exc}")]
    try:
        # A stream, not bytes: media files can be videos far larger than memory should hold.
        with open_regular(path) as stream:
            with c2pa.Reader(None, stream, None, _context(c2pa, trust_anchors_pem)) as reader:
                state = reader.get_validation_state() or ""
                results = reader.get_validation_results() or {}
                manifest = reader.get_active_manifest() or {}
    except NotRegularFile as exc:
        return [Evidence(record_id, SIGNAL, "", "unreadable", f"{ref}; {exc}")]
    except OSError as exc:
        return [Evidence(record_id, SIGNAL, "", "unreadable", f"{ref}; {type(exc).__name__}: {exc.strerror or exc}")]
    except c2pa.C2paError.ManifestNotFound:
        return [Evidence(record_id, SIGNAL, "", "absent", f"{ref}; no C2PA manifest")]
    except Exception as exc:
        return [Evidence(record_id, SIGNAL, "", "unreadable", f"{ref}; {type(exc).__name__}: {exc}")]
    term = digital_source_type(manifest)
    failures = _failure_codes(results)
    verdict = _verdict(state, failures)
    detail = f"state={state}"
    if failures:
        detail += f"; failures={','.join(failures)}"
    signer = (manifest.get("signature_info") or {}).get("issuer") if isinstance(manifest, dict) else None
    if signer:
        detail += f"; issuer={signer}"
    return [Evidence(record_id, SIGNAL, term, verdict, f"{ref}; {detail}")]


def digital_source_type(manifest: dict) -> str:
    """Short IPTC term from the manifest's actions; a synthetic term wins over a human one.

    An asset created by a camera and then edited with generative AI carries
    both; it must not pass as human, so any synthetic term is reported.
    """
    terms = []
    for assertion in manifest.get("assertions", []) if isinstance(manifest, dict) else []:
        if not isinstance(assertion, dict) or assertion.get("label") not in _ACTION_LABELS:
            continue
        for action in (assertion.get("data") or {}).get("actions", []):
            name = sourcetypes.short_name(action.get("digitalSourceType")) if isinstance(action, dict) else None
            if name:
                terms.append(name)
    synthetic = [t for t in terms if sourcetypes.origin(t) == "synthetic"]
    return (synthetic or terms or [""])[0]


def _context(c2pa, trust_anchors_pem: str | None):
    settings: dict = {"verify": {"verify_trust": True}}
    if trust_anchors_pem:
        settings["trust"] = {"trust_anchors": trust_anchors_pem}
    return c2pa.Context(c2pa.Settings.from_json(json.dumps(settings)))


def _failure_codes(results: dict) -> list[str]:
    active = results.get("activeManifest") or {} if isinstance(results, dict) else {}
    codes = [f.get("code", "") for f in active.get("failure", []) if isinstance(f, dict)]
    return sorted({c for c in codes if c})


def _verdict(state: str, failures: list[str]) -> str:
    if state == "Trusted" and not failures:
        return "verified"
    if state == "Invalid" or any(not c.startswith("signingCredential.untrusted") for c in failures):
        return "invalid"
    return "untrusted"
