"""Bad configuration fails at load, naming the key at fault."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from anchormix.config import load_settings, parse_settings
from anchormix.errors import ConfigError
from anchormix.readers import IngestSettings


@pytest.mark.parametrize(
    "data, key",
    [
        ({"mix": {"human_floor": 1.5}}, "mix.human_floor"),
        ({"mix": {"mode": "blend"}}, "mix.mode"),
        ({"mix": {"human_flor": 0.5}}, "mix.human_flor"),
        ({"gates": {"tail_coverage_floor": "high"}}, "gates.tail_coverage_floor"),
        ({"schedule": {"cron": "every night"}}, "schedule.cron"),
        ({"schedule": {"timezone": "Mars/Olympus"}}, "schedule.timezone"),
        ({"ingest": {"max_text_bytes": 0}}, "ingest.max_text_bytes"),
        ({"ingest": {"max_text_bytes": 1000, "max_line_bytes": 999}}, "ingest.max_line_bytes"),
        ({"ingest": {"max_line_bytes": 2**40}}, "ingest.max_line_bytes"),
        ({"ingest": {"max_decompressed_bytes": 0}}, "ingest.max_decompressed_bytes"),
        ({"ingest": {"max_decompressed_bytes": "1 GiB"}}, "ingest.max_decompressed_bytes"),
        ({"paths": {"store": ""}}, "paths.store"),
        ({"quality": {"min_words": 10, "max_words": 5}}, "quality.min_words"),
        ({"mixx": {}}, "mixx"),
    ],
)
def test_bad_values_name_their_key(tmp_path, data, key):
    with pytest.raises(ConfigError) as err:
        parse_settings(data, tmp_path)
    assert err.value.key == key
    assert str(err.value).startswith(key + ":")


def test_project_config_loads_and_resolves_paths_against_its_directory(tmp_path):
    path = tmp_path / "anchormix.toml"
    path.write_text('[paths]\nstore = "data/x.duckdb"\n[mix]\nhuman_floor = 0.6\n')
    settings = load_settings(path)
    assert settings.paths.store == tmp_path / "data" / "x.duckdb"
    assert settings.mix.human_floor == 0.6


def test_invalid_toml_names_the_file(tmp_path):
    path = tmp_path / "anchormix.toml"
    path.write_text("[mix\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path)


def _numeric_keys(data: dict) -> list[tuple[str, ...]]:
    keys = []
    for name, value in data.items():
        if isinstance(value, dict):
            keys += [(name, *rest) for rest in _numeric_keys(value)]
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            keys.append((name,))
    return keys


def _project_config() -> dict:
    return tomllib.loads((Path(__file__).resolve().parents[2] / "anchormix.toml").read_text())


NUMERIC_KEYS = _numeric_keys(_project_config()) + [
    ("ingest", "max_line_bytes"), ("ingest", "max_decompressed_bytes"), ("mix", "fresh_share"),
    ("gates", "vendi_ratio_floor"), ("gates", "tail_coverage_floor"), ("gates", "js_baseline_ceiling"),
    ("gates", "max_drop_from_previous")]  # optional keys anchormix.toml only names in a comment


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("key", NUMERIC_KEYS, ids=[".".join(k) for k in NUMERIC_KEYS])
def test_nan_and_inf_are_refused_for_every_numeric_key(tmp_path, key, value):
    section, name = key
    data = {section: {name: value}}
    with pytest.raises(ConfigError) as err:
        parse_settings(data, tmp_path)
    assert err.value.key == f"{section}.{name}"
    assert str(err.value) == f"{section}.{name}: must be a finite number, got {value!r}"


def test_ingest_limits_default_and_parse():
    assert IngestSettings() == IngestSettings.from_mapping({})
    assert IngestSettings().max_line_bytes == 4 * IngestSettings().max_text_bytes
    assert IngestSettings().max_decompressed_bytes == 1 << 30
    parsed = IngestSettings.from_mapping({"max_text_bytes": 1000, "max_decompressed_bytes": 5000})
    assert (parsed.max_line_bytes, parsed.max_decompressed_bytes) == (4000, 5000)
