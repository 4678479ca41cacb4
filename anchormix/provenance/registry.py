"""The source registry: which sources exist, their license, trust and keys.

A TOML file with one ``[sources.<name>]`` table per source::

    [sources.python-stdlib]
    kind = "licensed_human_archive"   # licensed_human_archive | web_crawl | generator
    license = "PSF-2.0"
    trust_tier = "high"               # high | medium | low
    description = "..."               # optional
    public_keys = [ { key_id = "stdlib-2026", ed25519 = "<base64 raw 32-byte key>" } ]
    c2pa_trust_anchors = "certs/anchors.pem"   # optional, relative to this file

Every problem fails at load with a :class:`~anchormix.errors.ConfigError` whose
key is the dotted path (``sources.web.public_keys[0].ed25519``).
"""

from __future__ import annotations

import base64
import binascii
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anchormix.configtools import reject_unknown, take_str
from anchormix.errors import ConfigError

KINDS = ("licensed_human_archive", "web_crawl", "generator")
TRUST_TIERS = ("high", "medium", "low")
_ENTRY_KEYS = ("kind", "license", "trust_tier", "description", "public_keys", "c2pa_trust_anchors")
_KEY_KEYS = ("key_id", "ed25519")


@dataclass(frozen=True)
class SourceEntry:
    """One registered source. ``public_keys`` maps key id to the raw 32-byte ed25519 key."""

    name: str
    kind: str
    license: str
    trust_tier: str
    description: str = ""
    public_keys: Mapping[str, bytes] = field(default_factory=dict)
    c2pa_trust_anchors: Path | None = None

    def trust_anchors_pem(self) -> str | None:
        """The PEM text of this source's C2PA trust anchors, if it has any."""
        if self.c2pa_trust_anchors is None:
            return None
        return self.c2pa_trust_anchors.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Registry:
    """All registered sources, by name."""

    sources: Mapping[str, SourceEntry]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], prefix: str = "sources",
                     base_dir: Path | None = None) -> "Registry":
        """Validate the ``[sources]`` table; relative anchor paths resolve against ``base_dir``."""
        if not isinstance(data, Mapping):
            raise ConfigError(prefix, f"must be a table, got {data!r}")
        entries = {}
        for name, raw in data.items():
            entries[name] = _parse_entry(name, raw, f"{prefix}.{name}", base_dir or Path.cwd())
        return cls(sources=entries)

    def get(self, name: object) -> SourceEntry | None:
        """The entry for source ``name``, or None when it is not registered."""
        return self.sources.get(name) if isinstance(name, str) else None

    @property
    def names(self) -> list[str]:
        """Registered source names, sorted."""
        return sorted(self.sources)

    def __iter__(self) -> Iterator[SourceEntry]:
        return iter(self.sources[name] for name in self.names)

    def __len__(self) -> int:
        return len(self.sources)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.sources


def load_registry(path: str | Path) -> Registry:
    """Read and validate a registry TOML file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("paths.registry", f"registry file {path} not found: create it (see the README's "
                          "'Bring your own data') or point [paths] registry at yours") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"is not valid TOML: {exc}") from None
    reject_unknown(data, ["sources"], "")
    return Registry.from_mapping(data.get("sources", {}), "sources", path.resolve().parent)


def decode_public_key(value: object, key: str) -> bytes:
    """Decode a base64 raw ed25519 public key, raising ConfigError at ``key``."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, f"must be a base64 string, got {value!r}")
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(key, "is not valid base64") from None
    if len(raw) != 32:
        raise ConfigError(key, f"must decode to a 32-byte ed25519 public key, got {len(raw)} bytes")
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise ConfigError(key, f"is not an ed25519 public key: {exc}") from None
    return raw


def _parse_entry(name: str, raw: Any, prefix: str, base_dir: Path) -> SourceEntry:
    if not isinstance(raw, Mapping):
        raise ConfigError(prefix, f"must be a table, got {raw!r}")
    if not name.strip():
        raise ConfigError(prefix, "source name must not be empty")
    reject_unknown(raw, _ENTRY_KEYS, prefix)
    kind = take_str(raw, "kind", prefix, choices=KINDS)
    license_ = take_str(raw, "license", prefix)
    if not license_.strip():
        raise ConfigError(f"{prefix}.license", "must not be empty")
    tier = take_str(raw, "trust_tier", prefix, choices=TRUST_TIERS)
    description = take_str(raw, "description", prefix, "")
    keys = _parse_keys(raw.get("public_keys", []), f"{prefix}.public_keys")
    anchors = None
    if "c2pa_trust_anchors" in raw:
        anchors = _parse_anchors(take_str(raw, "c2pa_trust_anchors", prefix), f"{prefix}.c2pa_trust_anchors", base_dir)
    return SourceEntry(name=name, kind=kind, license=license_, trust_tier=tier, description=description,
                       public_keys=keys, c2pa_trust_anchors=anchors)


def _parse_keys(raw: Any, prefix: str) -> dict[str, bytes]:
    if not isinstance(raw, list):
        raise ConfigError(prefix, f"must be an array of {{ key_id, ed25519 }} tables, got {raw!r}")
    keys: dict[str, bytes] = {}
    for i, item in enumerate(raw):
        key = f"{prefix}[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError(key, f"must be a table {{ key_id, ed25519 }}, got {item!r}")
        reject_unknown(item, _KEY_KEYS, key)
        key_id = take_str(item, "key_id", key)
        if not key_id.strip():
            raise ConfigError(f"{key}.key_id", "must not be empty")
        if key_id in keys:
            raise ConfigError(f"{key}.key_id", f"duplicate key id {key_id!r}")
        if "ed25519" not in item:
            raise ConfigError(f"{key}.ed25519", "is required")
        keys[key_id] = decode_public_key(item["ed25519"], f"{key}.ed25519")
    return keys


def _parse_anchors(value: str, key: str, base_dir: Path) -> Path:
    if not value.strip():
        raise ConfigError(key, "must not be empty")
    path = Path(value)
    path = path if path.is_absolute() else base_dir / path
    if not path.is_file():
        raise ConfigError(key, f"trust anchor file {path} does not exist")
    from cryptography import x509

    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except ValueError as exc:
        raise ConfigError(key, f"{path} holds no readable PEM certificate: {exc}") from None
    if not certs:
        raise ConfigError(key, f"{path} holds no PEM certificate")
    return path
