"""Load ``anchormix.toml``: one file, one section per stage, validated at load.

Relative paths resolve against the config file's directory. Every error is a
:class:`anchormix.errors.ConfigError` naming the dotted key at fault.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anchormix.configtools import reject_unknown, take_number, take_str, take_table
from anchormix.errors import ConfigError

CONFIG_ENV = "ANCHORMIX_CONFIG"
DEFAULT_CONFIG_NAME = "anchormix.toml"

SECTIONS = (
    "paths", "ingest", "quality", "dedup", "embedding", "detector",
    "diversity", "gates", "mix", "schedule", "publish",
)


@dataclass(frozen=True)
class Paths:
    """``[paths]``: where the pipeline reads and writes."""

    inbox: Path
    store: Path
    published: Path
    registry: Path
    models: Path
    baseline: Path
    runs: Path

    @classmethod
    def from_mapping(cls, data: dict, root: Path, prefix: str = "paths") -> "Paths":
        defaults = {
            "inbox": "var/inbox",
            "store": "var/anchormix.duckdb",
            "published": "var/published",
            "registry": "sources.toml",
            "models": "var/models",
            "baseline": "var/baseline",
            "runs": "var/runs",
        }
        reject_unknown(data, defaults, prefix)
        resolved = {}
        for name, default in defaults.items():
            value = take_str(data, name, prefix, default)
            if not value.strip():
                raise ConfigError(f"{prefix}.{name}", "must not be empty")
            path = Path(os.path.expandvars(os.path.expanduser(value)))
            resolved[name] = path if path.is_absolute() else (root / path)
        return cls(**resolved)


@dataclass(frozen=True)
class ScheduleSettings:
    """``[schedule]``: when the nightly job runs and when partitions start."""

    cron: str = "0 2 * * *"
    timezone: str = "UTC"
    start_date: str = "2026-01-01"

    @classmethod
    def from_mapping(cls, data: dict, prefix: str = "schedule") -> "ScheduleSettings":
        reject_unknown(data, ["cron", "timezone", "start_date"], prefix)
        cron = take_str(data, "cron", prefix, "0 2 * * *")
        if len(cron.split()) != 5:
            raise ConfigError(f"{prefix}.cron", f"must be a 5-field cron expression, got {cron!r}")
        timezone = take_str(data, "timezone", prefix, "UTC")
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(timezone)
        except Exception:
            raise ConfigError(f"{prefix}.timezone", f"unknown time zone {timezone!r}") from None
        start = take_str(data, "start_date", prefix, "2026-01-01")
        try:
            from datetime import date

            date.fromisoformat(start)
        except ValueError:
            raise ConfigError(f"{prefix}.start_date", f"must be YYYY-MM-DD, got {start!r}") from None
        return cls(cron=cron, timezone=timezone, start_date=start)


@dataclass(frozen=True)
class PublishSettings:
    """``[publish]``: how generations are written. ``group_readable`` (true): dirs 0750 and files 0640."""

    group_readable: bool = True

    @classmethod
    def from_mapping(cls, data: dict, prefix: str = "publish") -> "PublishSettings":
        from anchormix.configtools import take_bool

        reject_unknown(data, ["group_readable"], prefix)
        return cls(group_readable=take_bool(data, "group_readable", prefix, True))


@dataclass(frozen=True)
class Settings:
    """The whole validated configuration."""

    root: Path
    source_file: Path | None
    paths: Paths
    ingest: Any
    quality: Any
    dedup: Any
    embedding: Any
    detector: Any
    diversity: Any
    gates: Any
    mix: Any
    schedule: ScheduleSettings
    raw: dict
    publish: PublishSettings = PublishSettings()

    def section(self, name: str) -> dict:
        """The raw mapping of one section (for run-config defaults)."""
        return dict(self.raw.get(name, {}))


def parse_settings(data: dict, root: Path, source_file: Path | None = None) -> Settings:
    """Validate a parsed TOML mapping into :class:`Settings`."""
    from anchormix.dedup.near import NearDedupSettings
    from anchormix.diversity import DiversitySettings
    from anchormix.diversity_gate import GateSettings
    from anchormix.embed import EmbeddingSettings
    from anchormix.mix import MixPolicy
    from anchormix.provenance.detector import DetectorSettings
    from anchormix.quality import QualitySettings
    from anchormix.readers import IngestSettings

    reject_unknown(data, SECTIONS, "")
    sections = {name: take_table(data, name, "") for name in SECTIONS}
    return Settings(
        root=root,
        source_file=source_file,
        paths=Paths.from_mapping(sections["paths"], root),
        ingest=IngestSettings.from_mapping(sections["ingest"]),
        quality=QualitySettings.from_mapping(sections["quality"]),
        dedup=NearDedupSettings.from_mapping(sections["dedup"]),
        embedding=EmbeddingSettings.from_mapping(sections["embedding"]),
        detector=DetectorSettings.from_mapping(sections["detector"]),
        diversity=DiversitySettings.from_mapping(sections["diversity"]),
        gates=GateSettings.from_mapping(sections["gates"]),
        mix=MixPolicy.from_mapping(sections["mix"]),
        schedule=ScheduleSettings.from_mapping(sections["schedule"]),
        raw=data,
        publish=PublishSettings.from_mapping(sections["publish"]),
    )


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
