"""Verify a published generation: every file's sha256 against the manifest, and the manifest's signature.

A consumer runs this with the publisher's public key, obtained from the
publisher (``[publish] public_key`` or ``anchormix verify --public-key``), never
with the key the generation itself names: a generation that anyone rewrote
could name any key. Verified means all of: the signature verifies over the
manifest's exact bytes with that key, every listed file is there with its hash,
no file is there that the manifest does not list, nothing in the generation is
a symlink or special file (a symlinked directory could carry unlisted files
past the walk), and the manifest is the generation asked for (a genuinely
signed gen-1 copied to gen-3 is a replay, not gen-3). Anything else (an
unsigned generation, no key given, an unreadable manifest) is a problem, so
tampered or unverifiable never counts as verified.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from anchormix.fileio import file_sha256
from anchormix.publish.layout import LATEST, MANIFEST, SIGNATURE, generation_dir_name, parse_generation_dir
from anchormix.publish.signing import ALGORITHM, UNLISTED, key_fingerprint, raw_public_key, walk_generation


@dataclass
class VerifyReport:
    """What was checked and what failed; ``ok`` only when nothing failed."""

    path: Path
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    key_id: str | None = None
    generation: int | None = None  # the manifest's, as signed

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.checked)

    def summary(self) -> str:
        """One line per check and per problem, then the verdict."""
        lines = [f"ok    {c}" for c in self.checked] + [f"FAIL  {p}" for p in self.problems]
        verdict = (f"VERIFIED: {self.path} is generation {self.generation} signed by key {self.key_id}" if self.ok
                   else f"NOT VERIFIED: {self.path} ({len(self.problems)} problem(s))")
        return "\n".join(lines + [verdict])


def generation_dir(name: str | Path, published_root: Path) -> Path:
    """The directory ``name`` means: a path, ``gen-N`` / ``N`` (any zero padding) or ``latest`` under the root."""
    path = Path(name)
    if path.is_dir():
        return path
    text = str(name).strip()
    if text.lower() == "latest" and (Path(published_root) / LATEST).exists():
        text = (Path(published_root) / LATEST).read_text(encoding="utf-8").strip()
    match = re.fullmatch(r"(?:gen-)?0*(\d+)", text)
    if match and int(match.group(1)) >= 1:
        return Path(published_root) / generation_dir_name(int(match.group(1)))
    number = parse_generation_dir(text)
    return Path(published_root) / generation_dir_name(number) if number else path


def _safe(rel: object) -> bool:
    """A listed path must stay inside the generation (no absolute path, no ``..``)."""
    if not isinstance(rel, str) or not rel or rel.startswith("/") or "\\" in rel:
        return False
    return ".." not in PurePosixPath(rel).parts


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path``, every symlink on the way followed, is still under the generation's real directory."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return False


def _regular(path: Path) -> bool:
    """A regular file itself, not a symlink to one."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _check_files(root: Path, manifest: dict[str, Any], report: VerifyReport) -> None:
    files = manifest.get("files")
    if not isinstance(files, list) or not files:
        report.problems.append(f"{MANIFEST} lists no files (written before generations were signed?)")
        return
    listed: dict[str, str] = {}
    for entry in files:
        rel = entry.get("path") if isinstance(entry, dict) else None
        if not _safe(rel) or not isinstance(entry.get("sha256"), str):
            report.problems.append(f"{MANIFEST}: malformed file entry {entry!r}")
            continue
        listed[rel] = entry["sha256"]
        path = root / rel
        if not _inside(path, root):
            report.problems.append(f"{rel}: resolves outside the generation")
        elif not _regular(path):
            report.problems.append(f"{rel}: listed in the manifest but missing")
        elif file_sha256(path) != entry["sha256"]:
            report.problems.append(f"{rel}: sha256 differs from the manifest (changed after publication)")
    on_disk, odd = walk_generation(root)
    for rel in odd:
        report.problems.append(f"{rel}: a symlink or special file, not a file of the generation")
    for rel in sorted(set(on_disk) - set(listed) - set(UNLISTED)):
        report.problems.append(f"{rel}: present but not listed in the manifest (added after publication)")
    for shard in manifest.get("shards") or []:
        if isinstance(shard, dict) and listed.get(shard.get("path")) != shard.get("sha256"):
            report.problems.append(f"{shard.get('path')}: the manifest's shard entry and file list disagree")
    report.checked.append(f"{len(listed)} files listed in {MANIFEST}, each checked against its sha256")


def _check_generation(manifest: dict[str, Any], expected: int | None, report: VerifyReport) -> None:
    number = manifest.get("generation")
    if isinstance(number, bool) or not isinstance(number, int):
        report.problems.append(f"{MANIFEST}: generation {number!r} is not a number")
        return
    report.generation = number
    if expected is not None and number != expected:
        report.problems.append(f"{MANIFEST} is generation {number}'s, not generation {expected}'s asked for "
                               "(a published generation copied or renamed)")


def _check_signature(root: Path, manifest_bytes: bytes, manifest: dict[str, Any], public_key: Any,
                     report: VerifyReport) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    block = manifest.get("signature") if isinstance(manifest.get("signature"), dict) else {}
    report.key_id = block.get("key_id")
    sig_path = root / SIGNATURE
    if not sig_path.is_file():
        report.problems.append(f"{SIGNATURE} missing: the generation is unsigned" + (
            "" if not block else f" (its manifest says key {block.get('key_id')} signed it)"))
        return
    try:
        sig = json.loads(sig_path.read_text(encoding="utf-8"))
        signature = base64.b64decode(sig["signature"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        report.problems.append(f"{SIGNATURE} is unreadable: {exc}")
        return
    if sig.get("algorithm") != ALGORITHM:
        report.problems.append(f"{SIGNATURE}: algorithm {sig.get('algorithm')!r}, expected {ALGORITHM!r}")
        return
    if sig.get("manifest_sha256") != hashlib.sha256(manifest_bytes).hexdigest():
        report.problems.append(f"{MANIFEST}: sha256 differs from the one {SIGNATURE} signed for")
    if block and sig.get("key_id") != block.get("key_id"):
        report.problems.append(f"{SIGNATURE} names key {sig.get('key_id')!r}, the manifest {block.get('key_id')!r}")
    if public_key is None:
        report.problems.append(f"no public key given to check key {report.key_id or sig.get('key_id')}'s "
                               "signature: set [publish] public_key or pass --public-key")
        return
    try:
        raw = raw_public_key(public_key)
    except ValueError as exc:
        report.problems.append(f"the public key given is not an ed25519 public key: {exc}")
        return
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(signature, manifest_bytes)
    except InvalidSignature:
        named = block.get("public_key")
        hint = (" (the manifest names another public key: wrong key, or a re-signed generation)"
                if named and named != base64.b64encode(raw).decode("ascii") else "")
        report.problems.append(f"signature of {MANIFEST} does not verify with the public key given{hint}")
        return
    # The key id shown must be signed or trusted: signature.json is not covered by the signature, so without a
    # signature block in the manifest the key is named by the fingerprint of the key that verified.
    if not report.key_id:
        report.key_id = key_fingerprint(raw)
    report.checked.append(f"ed25519 signature of {MANIFEST} by key {report.key_id} verifies")


def verify_generation(path: str | Path, public_key: Any, expected_generation: int | None = None) -> VerifyReport:
    """Check every file hash and the signature of the generation at ``path``; never raises on bad content.

    ``public_key``: the publisher's ed25519 public key (raw 32 bytes, base64,
    PEM text or a key object); None reports the signature as unchecked, which
    fails. ``expected_generation``: the generation the caller asked for (``anchormix
    verify`` passes the number of the ``gen-N`` directory); a manifest signed for
    another generation is a problem, since a signature alone proves only that
    the publisher published these bytes as *some* generation. None: not
    compared, and ``report.generation`` says which one it is. Returns a :class:`VerifyReport`; ``report.ok`` is the verdict and
    ``report.problems`` says what is wrong, one line each.
    """
    root = Path(path)
    report = VerifyReport(root)
    manifest_path = root / MANIFEST
    if not root.is_dir():
        report.problems.append(f"{root} is not a directory")
        return report
    if not manifest_path.is_file():
        report.problems.append(f"{MANIFEST} missing")
        return report
    manifest_bytes = manifest_path.read_bytes()
    try:
        manifest = json.loads(manifest_bytes)
    except ValueError as exc:
        report.problems.append(f"{MANIFEST} is not JSON: {exc}")
        manifest = None
    if not isinstance(manifest, dict):
        if manifest is not None:
            report.problems.append(f"{MANIFEST} is not a JSON object")
        return report
    _check_generation(manifest, expected_generation, report)
    _check_files(root, manifest, report)
    _check_signature(root, manifest_bytes, manifest, public_key, report)
    return report
