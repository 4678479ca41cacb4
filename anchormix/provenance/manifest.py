"""Signed text manifests: ed25519 over a canonical JSON of the provenance claim.

A manifest is a JSON object stored on the record::

    content_hash         sha256 of anchormix.normalize.normalize_text(text)
    source               the registered source that vouches for the text
    creator              who made it
    capture_time         ISO 8601
    digital_source_type  IPTC term (short name or full URI)
    key_id               which of the source's registered keys signed it
    alg                  "ed25519"
    signature            base64 ed25519 signature over canonical_bytes(all other fields)

``canonical_bytes``: UTF-8 of ``json.dumps(fields, sort_keys=True,
separators=(",", ":"), ensure_ascii=False)``; any field besides ``signature``
(including unexpected extra ones) is covered, so altering or adding a field
breaks the signature.

:func:`verify_manifest` never raises; it returns one verdict:

``verified``        signature, key, source and hash all check out
``absent``          the record carries no manifest
``malformed``       not JSON / not an object / missing or non-string field /
                    unsupported alg / bad base64 / unknown digital_source_type /
                    unparseable capture_time
``source_mismatch`` the manifest names a different source than the record
``unknown_key``     key_id is not registered for the record's source (a key of
                    another source is unknown too)
``bad_signature``   the signature does not verify (forged, or a signed field altered)
``hash_mismatch``   the signature is good but the text is not the signed text
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from anchormix.evidence import Evidence
from anchormix.normalize import content_hash as _sha256, normalize_text
from anchormix.provenance import sourcetypes
from anchormix.provenance.registry import Registry

ALG = "ed25519"
SIGNED_FIELDS = ("content_hash", "source", "creator", "capture_time", "digital_source_type", "key_id", "alg")
MANIFEST_FIELDS = SIGNED_FIELDS + ("signature",)
VERDICTS = ("verified", "absent", "malformed", "source_mismatch", "unknown_key", "bad_signature", "hash_mismatch")
SIGNAL = "text_manifest"


@dataclass(frozen=True)
class ManifestCheck:
    """The outcome of checking one manifest against one record.

    ``digital_source_type`` is the short IPTC name and ``origin`` is
    ``human``/``synthetic`` once the manifest parsed far enough to read them.
    """

    verdict: str
    detail: str
    key_id: str = ""
    digital_source_type: str = ""
    origin: str = ""

    @property
    def verified(self) -> bool:
        return self.verdict == "verified"

    def to_evidence(self, record_id: str) -> Evidence:
        """The ``text_manifest`` evidence row for this check."""
        ref = f"key_id={self.key_id}" if self.key_id else ""
        if self.verdict != "verified" and self.detail:
            ref = f"{ref}; {self.detail}" if ref else self.detail
        return Evidence(record_id, SIGNAL, self.digital_source_type, self.verdict, ref)


def content_hash(text: str) -> str:
    """sha256 hex of the normalized text: the hash a manifest signs."""
    return _sha256(normalize_text(text))


def canonical_bytes(fields: dict[str, Any]) -> bytes:
    """The exact bytes that are signed: sorted keys, no whitespace, UTF-8."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def generate_keypair() -> tuple[bytes, str]:
    """A new ed25519 key: (private key as unencrypted PKCS8 PEM, base64 raw public key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return pem, base64.b64encode(raw).decode("ascii")


def public_key_b64(private_key: bytes | str) -> str:
    """The base64 raw public key matching a private PEM."""
    from cryptography.hazmat.primitives import serialization

    raw = _load_private(private_key).public_key().public_bytes(serialization.Encoding.Raw,
                                                               serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def sign_text(text: str, *, source: str, creator: str, capture_time: str, digital_source_type: str,
              private_key: bytes | str, key_id: str) -> dict:
    """Sign ``text`` for ``source`` and return the manifest dict.

    ``digital_source_type`` may be a short IPTC name or a URI; it is stored as
    the full URI. ``capture_time`` must be ISO 8601. Raises ValueError on an
    unknown term or a bad time, so a signer cannot emit a manifest that would
    later be judged malformed.
    """
    datetime.fromisoformat(capture_time)
    fields = {
        "content_hash": content_hash(text),
        "source": source,
        "creator": creator,
        "capture_time": capture_time,
        "digital_source_type": sourcetypes.full_uri(digital_source_type),
        "key_id": key_id,
        "alg": ALG,
    }
    signature = _load_private(private_key).sign(canonical_bytes(fields))
    return {**fields, "signature": base64.b64encode(signature).decode("ascii")}


def verify_manifest(manifest: dict | str | bytes | None, text: str, source: str, registry: Registry) -> ManifestCheck:
    """Check ``manifest`` for a record with ``text`` from ``source``. Never raises."""
    try:
        return _verify(manifest, text, source, registry)
    except Exception as exc:  # garbage must yield a verdict, not stop a labelling run
        return ManifestCheck("malformed", f"could not be checked: {type(exc).__name__}: {exc}")


def _is_absent(manifest: Any) -> bool:
    if manifest is None:
        return True
    if isinstance(manifest, float) and manifest != manifest:  # NaN from a pandas column
        return True
    if type(manifest).__name__ in ("NAType", "NaTType"):  # pd.NA / pd.NaT, without importing pandas
        return True
    return isinstance(manifest, (str, bytes)) and not manifest.strip()


def _verify(manifest: Any, text: str, source: str, registry: Registry) -> ManifestCheck:
    if _is_absent(manifest):
        return ManifestCheck("absent", "no manifest")
    if isinstance(manifest, (str, bytes)):
        try:
            manifest = json.loads(manifest)
        except (ValueError, UnicodeDecodeError):
            return ManifestCheck("malformed", "manifest is not valid JSON")
    if not isinstance(manifest, dict):
        return ManifestCheck("malformed", f"manifest is a {type(manifest).__name__}, not an object")
    missing = [f for f in MANIFEST_FIELDS if f not in manifest]
    if missing:
        return ManifestCheck("malformed", f"missing field(s): {', '.join(missing)}")
    not_str = [k for k, v in manifest.items() if not isinstance(v, str)]
    if not_str:
        return ManifestCheck("malformed", f"non-string field(s): {', '.join(sorted(map(str, not_str)))}")
    key_id = manifest["key_id"]
    if manifest["alg"] != ALG:
        return ManifestCheck("malformed", f"unsupported alg {manifest['alg']!r}", key_id)
    term = sourcetypes.short_name(manifest["digital_source_type"])
    if term is None:
        return ManifestCheck("malformed", f"unknown digital_source_type {manifest['digital_source_type']!r}", key_id)
    origin = sourcetypes.origin(term) or ""
    try:
        datetime.fromisoformat(manifest["capture_time"])
    except ValueError:
        return ManifestCheck("malformed", f"capture_time {manifest['capture_time']!r} is not ISO 8601", key_id, term, origin)
    try:
        signature = base64.b64decode(manifest["signature"], validate=True)
    except (binascii.Error, ValueError):
        return ManifestCheck("malformed", "signature is not valid base64", key_id, term, origin)
    if len(signature) != 64:
        return ManifestCheck("malformed", f"signature is {len(signature)} bytes, ed25519 needs 64", key_id, term, origin)
    if manifest["source"] != source:
        return ManifestCheck("source_mismatch", f"manifest source {manifest['source']!r} != record source {source!r}",
                             key_id, term, origin)
    entry = registry.get(source)
    if entry is None or key_id not in entry.public_keys:
        where = "unregistered source" if entry is None else f"source {source!r}"
        return ManifestCheck("unknown_key", f"key {key_id!r} not registered for {where}", key_id, term, origin)
    from nacl.exceptions import BadSignatureError

    signed = {k: v for k, v in manifest.items() if k != "signature"}
    try:
        _verify_key(entry.public_keys[key_id]).verify(canonical_bytes(signed), signature)
    except BadSignatureError:
        return ManifestCheck("bad_signature", "signature does not verify", key_id, term, origin)
    if manifest["content_hash"] != content_hash(text):
        return ManifestCheck("hash_mismatch", "text differs from the signed text", key_id, term, origin)
    return ManifestCheck("verified", f"signed by {key_id}", key_id, term, origin)


@lru_cache(maxsize=256)
def _verify_key(raw: bytes):
    """A registered raw ed25519 key as libsodium's verifier (PyNaCl): it checks a signature in about half the CPU
    of ``cryptography``'s, and a drop can hold a signed manifest per record. libsodium also refuses
    non-canonical signatures and small-order keys, which can only make fewer manifests count as verified."""
    from nacl.signing import VerifyKey

    return VerifyKey(raw)


def _load_private(private_key: bytes | str):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = private_key.encode("ascii") if isinstance(private_key, str) else private_key
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("private key is not an ed25519 key")
    return key
