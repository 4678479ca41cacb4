"""The source registry: which sources exist, their license, trust and keys.

A TOML file with one ``[sources.<name>]`` table per source::

    [sources.python-stdlib]
    kind = "licensed_human_archive"   # licensed_human_archive | web_crawl | generator
    license = "PSF-2.0"               # an SPDX expression; LicenseRef-<name> for custom terms
    trust_tier = "high"               # high | medium | low
    description = "..."               # optional
    rights_holder = "Python Software Foundation"   # optional, for the attribution table
    creator = "CPython contributors"  # optional, for the attribution table
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
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from anchormix.errors import ConfigError
from anchormix.licenses import normalize_license
from anchormix.settings_base import FieldError, NonEmptyStr, Section, Str, parse_section

KINDS = ("licensed_human_archive", "web_crawl", "generator")
TRUST_TIERS = ("high", "medium", "low")


def decode_public_key(value: object) -> bytes:
    """Decode a base64 raw ed25519 public key; ValueError says what is wrong with it."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a base64 string, got {value!r}")
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64") from None
    if len(raw) != 32:
        raise ValueError(f"must decode to a 32-byte ed25519 public key, got {len(raw)} bytes")
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise ValueError(f"is not an ed25519 public key: {exc}") from None
    return raw


def _parse_anchors(value: object, base_dir: Path) -> Path:
    """The trust anchor file, relative to the registry's directory; it must hold a PEM certificate."""
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {value!r}")
    if not value.strip():
        raise ValueError("must not be empty")
    path = Path(value)
    path = path if path.is_absolute() else base_dir / path
    if not path.is_file():
        raise ValueError(f"trust anchor file {path} does not exist")
    from cryptography import x509

    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except ValueError as exc:
        raise ValueError(f"{path} holds no readable PEM certificate: {exc}") from None
    if not certs:
        raise ValueError(f"{path} holds no PEM certificate")
    return path


class PublicKey(Section):
    """One ``{ key_id, ed25519 }`` table of ``public_keys``; ``ed25519`` is decoded to the raw 32-byte key."""

    key_id: NonEmptyStr
    ed25519: Annotated[bytes, BeforeValidator(decode_public_key)]


class SourceEntry(Section):
    """One registered source. ``public_keys`` maps key id to the raw 32-byte ed25519 key.

    ``license`` is validated and kept in canonical SPDX form (see
    :mod:`anchormix.licenses`); ``rights_holder`` and ``creator`` are credited in
    each generation's attribution table.
    """

    name: NonEmptyStr
    kind: Literal["licensed_human_archive", "web_crawl", "generator"]
    license: Annotated[NonEmptyStr, AfterValidator(normalize_license)]
    trust_tier: Literal["high", "medium", "low"]
    description: Str = ""
    rights_holder: Str = ""
    creator: Str = ""
    keys: tuple[PublicKey, ...] = Field((), alias="public_keys")
    c2pa_trust_anchors: Optional[Path] = None

    @field_validator("keys")
    @classmethod
    def _distinct_key_ids(cls, keys: tuple[PublicKey, ...]) -> tuple[PublicKey, ...]:
        seen: set[str] = set()
        for i, key in enumerate(keys):
            if key.key_id in seen:
                raise FieldError(f"duplicate key id {key.key_id!r}", i, "key_id")
            seen.add(key.key_id)
        return keys

    @field_validator("c2pa_trust_anchors", mode="before")
    @classmethod
    def _anchor_file(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or isinstance(value, Path):
            return value
        return _parse_anchors(value, (info.context or {}).get("base_dir") or Path.cwd())

    @property
    def public_keys(self) -> dict[str, bytes]:
        return {key.key_id: key.ed25519 for key in self.keys}

    def trust_anchors_pem(self) -> str | None:
        """The PEM text of this source's C2PA trust anchors, if it has any."""
        if self.c2pa_trust_anchors is None:
            return None
        return self.c2pa_trust_anchors.read_text(encoding="utf-8")


class Registry(Section):
    """The registry file: all registered sources, by name (``[sources.<name>]``).

    Validate with ``Registry.model_validate(data, context={"base_dir": dir})``:
    relative anchor paths resolve against ``base_dir``.
    """

    sources: dict[str, SourceEntry] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _named_entries(cls, data: Any) -> Any:
        """Each entry's name is its table name."""
        if not isinstance(data, Mapping) or not isinstance(data.get("sources"), Mapping):
            return data
        sources = {}
        for name, raw in data["sources"].items():
            if isinstance(raw, Mapping):
                if "name" in raw:
                    raise FieldError("unknown key (the table name is the source name)", "sources", name, "name")
                raw = {**raw, "name": name}
            sources[name] = raw
        return {**data, "sources": sources}

    def get(self, name: object) -> SourceEntry | None:
        """The entry for source ``name``, or None when it is not registered."""
        return self.sources.get(name) if isinstance(name, str) else None

    @property
    def names(self) -> list[str]:
        """Registered source names, sorted."""
        return sorted(self.sources)

    def __iter__(self) -> Iterator[SourceEntry]:  # type: ignore[override]
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
    return parse_section(Registry, data, context={"base_dir": path.resolve().parent})
