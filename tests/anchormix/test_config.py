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
        ({"engine": {"kind": "spark"}}, "engine.kind"),
        ({"engine": {"address": "localhost"}}, "engine.address"),
        ({"engine": {"address": "ray://head:10001"}}, "engine.address"),  # Ray Data cannot run over the client
        ({"engine": {"num_cpus": 0}}, "engine.num_cpus"),
        ({"engine": {"max_retries": -1}}, "engine.max_retries"),
        ({"engine": {"shard_rows": "many"}}, "engine.shard_rows"),
        ({"engine": {"workers": 4}}, "engine.workers"),
        ({"paths": {"data_root": "://bucket/prefix"}}, "paths.data_root"),
        ({"paths": {"data_root": ""}}, "paths.data_root"),
    ],
)
def test_bad_values_name_their_key(tmp_path, data, key):
    with pytest.raises(ConfigError) as err:
        parse_settings(data, tmp_path)
    assert err.value.key == key
    assert str(err.value).startswith(key + ":")


def test_engine_defaults_to_local_and_data_root_takes_a_directory_or_a_uri(tmp_path):
    defaults = parse_settings({}, tmp_path)
    assert defaults.engine.kind == "local" and defaults.engine.address == ""
    assert defaults.paths.data_root == str(tmp_path / "var" / "data")  # resolved like every other path
    ray = parse_settings({"engine": {"kind": "ray", "address": "head.svc:6379"},
                          "paths": {"data_root": "s3://bucket/anchormix"}}, tmp_path)
    assert ray.engine.address == "head.svc:6379" and ray.paths.data_root == "s3://bucket/anchormix"


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
    assert IngestSettings() == IngestSettings.model_validate({})
    assert IngestSettings().max_line_bytes == 4 * IngestSettings().max_text_bytes
    assert IngestSettings().max_decompressed_bytes == 1 << 30
    parsed = IngestSettings.model_validate({"max_text_bytes": 1000, "max_decompressed_bytes": 5000})
    assert (parsed.max_line_bytes, parsed.max_decompressed_bytes) == (4000, 5000)


def test_a_bad_file_names_every_dotted_key(tmp_path):
    """The settings model loads the file; each bad value's error names its dotted key."""
    path = tmp_path / "anchormix.toml"
    path.write_text("[gates]\nalpha = 2.0\n[detector]\nmax_human_flag_rate = nan\n[mix]\nhumam_floor = 0.5\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    message = str(err.value)
    assert err.value.key == "detector.max_human_flag_rate"  # sections validate in file-model order
    assert message.startswith("detector.max_human_flag_rate: must be a finite number, got nan")
    assert "\ngates.alpha: must be < 0.5, got 2.0" in message
    assert "\nmix.humam_floor: unknown key (allowed: allowed_licenses, denied_licenses, fresh_share, human_floor," in message


@pytest.mark.parametrize("text, key", [
    ("[gates]\nalpha = 2.0\n", "gates.alpha"),
    ("[detector]\nmax_human_flag_rate = nan\n", "detector.max_human_flag_rate"),
    ("[mix]\nhumam_floor = 0.5\n", "mix.humam_floor"),
    ("[publish]\ngroup_readable = 1\n", "publish.group_readable"),
    ("[embedding]\nmodel = 3\n", "embedding.model"),
    ("[dedup]\nnum_perm = 64.5\n", "dedup.num_perm"),
])
def test_one_bad_value_in_the_file_names_its_key(tmp_path, text, key):
    path = tmp_path / "anchormix.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert err.value.key == key and str(err.value).startswith(key + ": ") and "\n" not in str(err.value)


def test_paths_expand_home_and_variables_and_resolve_against_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("ANCHORMIX_TEST_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = tmp_path / "conf" / "anchormix.toml"
    path.parent.mkdir()
    path.write_text('[paths]\nstore = "$ANCHORMIX_TEST_DATA/x.duckdb"\ninbox = "~/inbox"\n')
    s = load_settings(path)
    assert s.paths.store == tmp_path / "data" / "x.duckdb"
    assert s.paths.inbox == tmp_path / "home" / "inbox"
    assert s.paths.runs == tmp_path / "conf" / "var" / "runs"  # a default, relative to the file
    assert s.root == tmp_path / "conf" and s.source_file == path


def test_settings_are_frozen_and_a_revalidated_copy_checks_its_values(tmp_path):
    from pydantic import ValidationError

    from anchormix.settings_base import revalidated

    s = parse_settings({"mix": {"human_floor": 0.6}}, tmp_path)
    with pytest.raises(ValidationError):
        s.mix.human_floor = 0.1
    assert revalidated(s.mix, {"mode": "replace"}, "mix").mode == "replace"
    with pytest.raises(ConfigError) as err:
        revalidated(s.mix, {"synthetic_cap": 0.5}, "mix")
    assert err.value.key == "mix.synthetic_cap"
