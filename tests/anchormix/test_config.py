"""Bad configuration fails at load, naming the key at fault."""

from __future__ import annotations

import pytest

from anchormix.config import load_settings, parse_settings
from anchormix.errors import ConfigError


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
