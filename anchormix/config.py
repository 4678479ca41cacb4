"""Load ``anchormix.toml``: one file, one section per stage, validated at load by one pydantic model.

:class:`Settings` has one field per section, each a :class:`anchormix.settings_base.Section`
model defined next to the code it configures. Unknown keys, values out of
bounds, ``nan`` and ``inf`` are refused. Relative paths resolve against the
config file's directory (after ``~`` and ``$VAR`` expansion). Every error is a
:class:`anchormix.errors.ConfigError` naming the dotted key at fault.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Optional

from pydantic import BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from anchormix.dedup.near import NearDedupSettings
from anchormix.diversity import DiversitySettings
from anchormix.diversity_gate import GateSettings
from anchormix.embed import EmbeddingSettings
from anchormix.engine.settings import EngineSettings
from anchormix.errors import ConfigError
from anchormix.mix import MixPolicy
from anchormix.provenance.detector import DetectorSettings
from anchormix.quality.settings import QualitySettings
from anchormix.readers import IngestSettings
from anchormix.settings_base import Bool, FieldError, Fraction, Int, Section, Str, parse_section
from anchormix.value import ValueSettings

CONFIG_ENV = "ANCHORMIX_CONFIG"
DEFAULT_CONFIG_NAME = "anchormix.toml"


def _config_path(value: Any, info: ValidationInfo) -> Path:
    """A path from the file: ``~`` and ``$VAR`` expanded, relative to the config file's directory."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {value!r}")
    if not value.strip():
        raise ValueError("must not be empty")
    path = Path(os.path.expandvars(os.path.expanduser(value)))
    root = (info.context or {}).get("root") or Path.cwd()
    return path if path.is_absolute() else Path(root) / path


ConfigPath = Annotated[Path, BeforeValidator(_config_path)]

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://.")


def _data_root(value: Any, info: ValidationInfo) -> str:
    """A URI (``s3://bucket/prefix``, ``gs://…``) as written; anything else is a local path, resolved like the others.

    A string, not a Path: ``Path("s3://b/p")`` would collapse the ``//``. pyarrow opens either form.
    """
    if isinstance(value, str) and "://" in value:
        if not _URI.match(value):
            raise ValueError(f"must be a directory or a URI such as s3://bucket/prefix, got {value!r}")
        return value
    return str(_config_path(value, info))


DataRoot = Annotated[str, BeforeValidator(_data_root)]


class Paths(Section):
    """``[paths]``: where the pipeline reads and writes."""

    model_config = ConfigDict(validate_default=True)

    inbox: ConfigPath = Field("var/inbox", description="drops: inbox/<YYYY-MM-DD>/*")
    store: ConfigPath = Field("var/anchormix.duckdb", description="the DuckDB file")
    published: ConfigPath = Field("var/published", description="numbered generations and LATEST")
    registry: ConfigPath = Field("sources.toml", description="the source registry")
    models: ConfigPath = Field("var/models", description="versioned detector models")
    baseline: ConfigPath = Field("var/baseline", description="the pinned human diversity baseline")
    runs: ConfigPath = Field("var/runs", description="per-run gate artifacts")
    data_root: DataRoot = Field("var/data", description="Parquet shards of per-record stages on Ray (dir or URI)")


class ScheduleSettings(Section):
    """``[schedule]``: when the nightly job runs and when partitions start."""

    cron: Str = "0 2 * * *"
    timezone: Str = "UTC"
    start_date: Str = "2026-01-01"

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, cron: str) -> str:
        if len(cron.split()) != 5:
            raise ValueError(f"must be a 5-field cron expression, got {cron!r}")
        return cron

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, timezone: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(timezone)
        except Exception:
            raise ValueError(f"unknown time zone {timezone!r}") from None
        return timezone

    @field_validator("start_date")
    @classmethod
    def _iso_date(cls, start: str) -> str:
        try:
            date.fromisoformat(start)
        except ValueError:
            raise ValueError(f"must be YYYY-MM-DD, got {start!r}") from None
        return start


class PublishSettings(Section):
    """``[publish]``: how generations are written.

    ``group_readable`` (true): dirs 0750 and files 0640. The tail probe set
    (:mod:`anchormix.probes`): ``probe_per_cluster`` (5) human records of each
    rare baseline cluster, at most ``probe_max`` (200) in all and at most
    ``probe_cluster_share`` (0.2) of a rare cluster's eligible human records,
    so the mix keeps the tail its gates test; ``probe_seed`` (0) orders the
    choice. ``probe_per_cluster = 0`` exports no probe set.

    Signing (:mod:`anchormix.publish.signing`): ``signing_key``, the publisher's
    ed25519 private key (PEM), signs every generation's manifest; unset,
    generations are published unsigned and never verify. ``key_id`` names it in
    the manifest and the card (empty: its fingerprint). ``public_key``: the
    publisher's base64 public key ``anchormix verify`` checks against (empty:
    derived from ``signing_key``). A key file that exists is checked at load; a
    missing one (the demo makes its own at setup) fails the publish, naming
    ``publish.signing_key``.
    """

    group_readable: Bool = True
    probe_per_cluster: Int = Field(5, ge=0, le=10_000, description="Held-out human records per rare baseline cluster")
    probe_max: Int = Field(200, ge=0, le=1_000_000, description="Most records in a generation's probe set")
    probe_cluster_share: Fraction = Field(
        0.2, description="Most of a rare cluster's eligible human records withheld as probes")
    probe_seed: Int = Field(0, ge=0, description="Seed of the probe choice")
    signing_key: Optional[ConfigPath] = Field(None, description="ed25519 private key (PEM) that signs generations")
    key_id: Str = Field("", description="the signing key's name in manifests and cards (empty: its fingerprint)")
    public_key: Str = Field("", description="publisher's ed25519 public key (base64) for anchormix verify")

    @field_validator("signing_key")
    @classmethod
    def _readable_key(cls, path: Path | None) -> Path | None:
        from anchormix.publish.signing import load_signer

        if path is not None and path.exists():
            load_signer(path)
        return path

    @field_validator("key_id")
    @classmethod
    def _plain_id(cls, key_id: str) -> str:
        if any(c.isspace() for c in key_id):
            raise ValueError(f"must be a name without spaces, got {key_id!r}")
        return key_id

    @field_validator("public_key")
    @classmethod
    def _ed25519_public(cls, public_key: str) -> str:
        from anchormix.provenance.registry import decode_public_key

        if public_key:
            decode_public_key(public_key)
        return public_key

    @model_validator(mode="after")
    def _pair_matches(self) -> "PublishSettings":
        if self.public_key and self.signing_key is not None and self.signing_key.exists():
            if self.signer().public_key_b64 != self.public_key.strip():
                raise FieldError(f"is not the public half of signing_key {self.signing_key}", "public_key")
        return self

    def signer(self):
        """The :class:`~anchormix.publish.signing.Signer` of ``signing_key`` (None: unsigned); ConfigError if unusable."""
        from anchormix.publish.signing import load_signer

        if self.signing_key is None:
            return None
        try:
            return load_signer(self.signing_key, self.key_id)
        except ValueError as exc:
            raise ConfigError("publish.signing_key", str(exc)) from None

    def verify_key(self) -> str | None:
        """The public key ``anchormix verify`` trusts: ``public_key``, else ``signing_key``'s, else None."""
        if self.public_key:
            return self.public_key.strip()
        if self.signing_key is not None and self.signing_key.exists():
            return self.signer().public_key_b64
        return None


class Settings(Section):
    """The whole validated configuration: one field per section of ``anchormix.toml``."""

    # A missing section is validated from {} (so [paths] defaults resolve against the file's directory).
    model_config = ConfigDict(validate_default=True)

    paths: Paths = Field(default_factory=dict)
    ingest: IngestSettings = Field(default_factory=dict)
    quality: QualitySettings = Field(default_factory=dict)
    dedup: NearDedupSettings = Field(default_factory=dict)
    embedding: EmbeddingSettings = Field(default_factory=dict)
    detector: DetectorSettings = Field(default_factory=dict)
    diversity: DiversitySettings = Field(default_factory=dict)
    gates: GateSettings = Field(default_factory=dict)
    mix: MixPolicy = Field(default_factory=dict)
    value: ValueSettings = Field(default_factory=dict)
    schedule: ScheduleSettings = Field(default_factory=dict)
    publish: PublishSettings = Field(default_factory=dict)
    engine: EngineSettings = Field(default_factory=dict)

    _root: Path = PrivateAttr(default_factory=Path.cwd)
    _source_file: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _where_from(self, info: ValidationInfo) -> "Settings":
        context = info.context or {}
        if context.get("root") is not None:
            self._root = Path(context["root"])
        self._source_file = context.get("source_file")
        return self

    @property
    def root(self) -> Path:
        """The directory relative paths resolved against."""
        return self._root

    @property
    def source_file(self) -> Path | None:
        """The file the settings were read from (None: defaults, no file)."""
        return self._source_file


SECTIONS = tuple(Settings.model_fields)


def parse_settings(data: dict, root: Path, source_file: Path | None = None) -> Settings:
    """Validate a parsed TOML mapping into :class:`Settings`; a bad value raises ConfigError naming its key."""
    return parse_section(Settings, data, context={"root": root, "source_file": source_file})


def find_config(start: Path | None = None) -> Path | None:
    """``$ANCHORMIX_CONFIG``, else ``anchormix.toml`` in the project root or cwd."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        path = Path(env)
        if not path.is_file():
            raise ConfigError(CONFIG_ENV, f"points at {path}, which is not a file")
        return path
    for base in [start or Path.cwd(), Path(__file__).resolve().parents[1]]:
        candidate = base / DEFAULT_CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def load_settings(path: Path | None = None) -> Settings:
    """Load and validate the configuration file (defaults when there is none)."""
    path = path or find_config()
    if path is None:
        return parse_settings({}, Path.cwd())
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"is not valid TOML: {exc}") from None
    return parse_settings(data, Path(path).resolve().parent, Path(path).resolve())
