"""Signing a generation: the manifest lists the sha256 of every file, and an ed25519 signature covers it.

The signature sits in its own file, ``signature.json``, beside ``manifest.json``
rather than inside it, so the signed bytes are the manifest file exactly as
written: no canonical re-serialisation for a verifier to get wrong, and the
manifest's own hash never changes once written. Every file of the generation
except these two is listed in the manifest's ``files`` (shards, croissant.json,
the card, plots, the probe set and whatever a later version adds), so a changed,
removed or added file is caught by :func:`anchormix.publish.verify.verify_generation`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anchormix.fileio import file_sha256
from anchormix.publish.layout import MANIFEST, SIGNATURE

ALGORITHM = "ed25519"
SIGNATURE_FORMAT = "anchormix-signature/1"
UNLISTED = (MANIFEST, SIGNATURE)  # the two files the manifest cannot list: itself and what signs it


def raw_public_key(key: Any) -> bytes:
    """The raw 32 bytes of an ed25519 public key given as raw bytes, base64, PEM text or a key object."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if isinstance(key, Ed25519PublicKey):
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if isinstance(key, bytes) and len(key) == 32:
        return key
    text = key.decode("ascii", "replace") if isinstance(key, bytes) else str(key)
    if "BEGIN PUBLIC KEY" in text:
        loaded = serialization.load_pem_public_key(text.encode("ascii"))
        if not isinstance(loaded, Ed25519PublicKey):
            raise ValueError("the PEM public key is not an ed25519 key")
        return raw_public_key(loaded)
    from anchormix.provenance.registry import decode_public_key

    return decode_public_key(text)


def key_fingerprint(public_key: bytes) -> str:
    """A short, stable name for a public key: ``ed25519:`` and the first 16 hex of its sha256."""
    return f"{ALGORITHM}:{hashlib.sha256(public_key).hexdigest()[:16]}"


@dataclass(frozen=True)
class Signer:
    """The publisher's ed25519 private key and the id it is published under."""

    private_pem: bytes
    key_id: str

    def _key(self):
        from anchormix.provenance.manifest import _load_private

        return _load_private(self.private_pem)

    @property
    def public_key(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self._key().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def public_key_b64(self) -> str:
        return base64.b64encode(self.public_key).decode("ascii")

    def sign(self, data: bytes) -> bytes:
        return self._key().sign(data)


def load_signer(path: Path, key_id: str = "") -> Signer:
    """The signer for a PEM ed25519 private key file; ``key_id`` empty: the key's fingerprint.

    Raises ValueError saying what is wrong (missing file, not PEM, not ed25519).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"key file {path} not found: make one with `anchormix sign keygen --out DIR --key-id ID` "
                         "(`make demo` makes the demo publisher's)")
    pem = path.read_bytes()
    try:
        signer = Signer(pem, key_id)
        public = signer.public_key
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path} is not an unencrypted PEM ed25519 private key: {exc}") from None
    return Signer(pem, key_id or key_fingerprint(public))


def ensure_key(path: Path) -> bool:
    """Make an ed25519 key at ``path`` (mode 0600) unless one is there; returns whether it made one.

    For the demo's publisher key, made at demo setup so no private key is ever committed.
    """
    from anchormix.provenance.manifest import generate_keypair
    from anchormix.provenance.sign_cli import write_private_key

    path = Path(path)
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private_key(path, generate_keypair()[0])
    return True


def walk_generation(root: Path) -> tuple[list[str], list[str]]:
    """Every regular file under ``root`` (relative POSIX paths, sorted), and every entry that is not one.

    The walk never follows a symlink (``os.walk(followlinks=False)`` and
    ``lstat``): ``Path.rglob`` does not enter a symlinked directory on Python
    3.11, so files reached through one would be neither hashed nor seen, and a
    symlinked ``data/`` could carry shards the manifest never listed. A
    generation is plain files and directories, so a symlink, fifo, socket or
    device anywhere in it, or a directory that cannot be read, is returned in
    the second list, for the caller to refuse.
    """
    root = Path(root)
    files: list[str] = []
    odd: list[str] = []

    def unreadable(exc: OSError) -> None:
        odd.append(f"{Path(exc.filename).relative_to(root).as_posix() if exc.filename else root} (unreadable)")

    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=unreadable):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            mode = path.lstat().st_mode
            rel = path.relative_to(root).as_posix()
            if stat.S_ISREG(mode):
                files.append(rel)
            elif not stat.S_ISDIR(mode):  # a symlink (to a file or a directory) or a special file
                odd.append(rel)
    return sorted(files), sorted(odd)


def file_entries(generation_dir: Path) -> list[dict[str, Any]]:
    """``{path, sha256, bytes}`` of every file under ``generation_dir`` except the manifest and signature.

    Raises ValueError on a symlink or special file: the publisher writes plain
    files only, and a verifier refuses anything else.
    """
    root = Path(generation_dir)
    files, odd = walk_generation(root)
    if odd:
        raise ValueError(f"{root}: not regular files (symlinks or special files): {odd[:5]}")
    out = []
    for rel in files:
        if rel not in UNLISTED:
            path = root / rel
            out.append({"path": rel, "sha256": file_sha256(path), "bytes": path.stat().st_size})
    return out


def signing_block(signer: Signer | None) -> dict[str, Any] | None:
    """What the manifest says about its signature (None: unsigned)."""
    if signer is None:
        return None
    return {"algorithm": ALGORITHM, "key_id": signer.key_id, "public_key": signer.public_key_b64,
            "file": SIGNATURE}


def signature_document(manifest_bytes: bytes, signer: Signer) -> dict[str, Any]:
    """The content of ``signature.json``: the ed25519 signature of the manifest's exact bytes."""
    return {
        "format": SIGNATURE_FORMAT,
        "algorithm": ALGORITHM,
        "key_id": signer.key_id,
        "signed_file": MANIFEST,
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        "signature": base64.b64encode(signer.sign(manifest_bytes)).decode("ascii"),
    }


def signature_bytes(manifest_bytes: bytes, signer: Signer) -> bytes:
    """``signature.json`` as written."""
    return json.dumps(signature_document(manifest_bytes, signer), indent=1).encode("utf-8")
