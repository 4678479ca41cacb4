"""Registry loading: valid files load; every bad value names its dotted key."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from anchormix.errors import ConfigError
from anchormix.provenance.registry import load_registry

GOOD_KEY = base64.b64encode(bytes(range(32))).decode()


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_loads_entries_keys_and_relative_anchor_path(tmp_path, keys, cert_chain):
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "anchors.pem").write_bytes(cert_chain["root_pem"])
    path = _write(tmp_path, f"""
[sources.python-stdlib]
kind = "licensed_human_archive"
license = "PSF-2.0"
trust_tier = "high"
description = "stdlib"
public_keys = [ {{ key_id = "stdlib-2026", ed25519 = "{keys['archive'][1]}" }} ]
c2pa_trust_anchors = "certs/anchors.pem"

[sources.web]
kind = "web_crawl"
license = "LicenseRef-mixed-crawl"
trust_tier = "low"
""")
    reg = load_registry(path)
    assert reg.names == ["python-stdlib", "web"]
    entry = reg.get("python-stdlib")
    assert entry.kind == "licensed_human_archive" and entry.trust_tier == "high"
    assert base64.b64encode(entry.public_keys["stdlib-2026"]).decode() == keys["archive"][1]
    assert entry.c2pa_trust_anchors == tmp_path / "certs" / "anchors.pem"
    assert "BEGIN CERTIFICATE" in entry.trust_anchors_pem()
    assert reg.get("web").public_keys == {} and reg.get("nope") is None
    assert [e.name for e in reg] == ["python-stdlib", "web"]


BASE = 'kind = "web_crawl"\nlicense = "LicenseRef-mixed-crawl"\ntrust_tier = "medium"\n'


@pytest.mark.parametrize("body, key", [
    ('kind = "web_crawl"\nlicense = "LicenseRef-mixed-crawl"\ntrust_tier = "top"\n', "sources.web.trust_tier"),
    ('kind = "scraper"\nlicense = "LicenseRef-mixed-crawl"\ntrust_tier = "high"\n', "sources.web.kind"),
    ('kind = "web_crawl"\ntrust_tier = "high"\n', "sources.web.license"),
    ('kind = "web_crawl"\nlicense = ""\ntrust_tier = "high"\n', "sources.web.license"),
    ('kind = "web_crawl"\nlicense = "mixed"\ntrust_tier = "high"\n', "sources.web.license"),
    ('kind = "web_crawl"\nlicense = "MIT AND"\ntrust_tier = "high"\n', "sources.web.license"),
    ('kind = "web_crawl"\nlicense = "LicenseRef-no spaces"\ntrust_tier = "high"\n', "sources.web.license"),
    (BASE + 'rights_holder = 3\n', "sources.web.rights_holder"),
    (BASE + 'licence = "typo"\n', "sources.web.licence"),
    (BASE + 'public_keys = [ { key_id = "k", ed25519 = "***" } ]\n', "sources.web.public_keys[0].ed25519"),
    (BASE + f'public_keys = [ {{ key_id = "k", ed25519 = "{base64.b64encode(bytes(31)).decode()}" }} ]\n',
     "sources.web.public_keys[0].ed25519"),
    (BASE + f'public_keys = [ {{ key_id = "a", ed25519 = "{GOOD_KEY}" }}, {{ key_id = "b" }} ]\n',
     "sources.web.public_keys[1].ed25519"),
    (BASE + f'public_keys = [ {{ key_id = "a", ed25519 = "{GOOD_KEY}", comment = "x" }} ]\n',
     "sources.web.public_keys[0].comment"),
    (BASE + f'public_keys = [ {{ key_id = "a", ed25519 = "{GOOD_KEY}" }}, {{ key_id = "a", ed25519 = "{GOOD_KEY}" }} ]\n',
     "sources.web.public_keys[1].key_id"),
    (BASE + 'public_keys = "abc"\n', "sources.web.public_keys"),
    (BASE + 'c2pa_trust_anchors = "missing.pem"\n', "sources.web.c2pa_trust_anchors"),
])
def test_bad_entry_names_its_key(tmp_path, body, key):
    path = _write(tmp_path, "[sources.web]\n" + body)
    with pytest.raises(ConfigError) as err:
        load_registry(path)
    assert err.value.key == key, str(err.value)


def test_anchor_file_without_certificate_is_rejected(tmp_path):
    (tmp_path / "a.pem").write_text("not a certificate")
    with pytest.raises(ConfigError) as err:
        load_registry(_write(tmp_path, "[sources.web]\n" + BASE + 'c2pa_trust_anchors = "a.pem"\n'))
    assert err.value.key == "sources.web.c2pa_trust_anchors"


def test_unknown_top_level_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_registry(_write(tmp_path, "[source.web]\n" + BASE))
    assert err.value.key == "source"
    with pytest.raises(ConfigError):
        load_registry(_write(tmp_path, "[sources.web\n"))


def test_a_missing_registry_file_names_the_config_key(tmp_path):
    from anchormix.errors import ConfigError
    from anchormix.provenance.registry import load_registry

    with pytest.raises(ConfigError, match=r"^paths\.registry: registry file .*missing\.toml not found"):
        load_registry(tmp_path / "missing.toml")


def test_license_is_kept_in_canonical_spdx_form_with_attribution(tmp_path):
    reg = load_registry(_write(tmp_path, """
[sources.docs]
kind = "licensed_human_archive"
license = "mit or apache-2.0"
trust_tier = "high"
rights_holder = "The docs authors"
creator = "Docs contributors"

[sources.deal]
kind = "licensed_human_archive"
license = "LicenseRef-acme-2026-deal"
trust_tier = "high"
"""))
    assert reg.get("docs").license == "MIT OR Apache-2.0"
    assert (reg.get("docs").rights_holder, reg.get("docs").creator) == ("The docs authors", "Docs contributors")
    assert reg.get("deal").license == "LicenseRef-acme-2026-deal" and reg.get("deal").rights_holder == ""


def test_a_non_spdx_license_says_what_to_use_instead(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_registry(_write(tmp_path, "[sources.web]\n" + BASE.replace("LicenseRef-mixed-crawl", "Apache 2.0")))
    assert err.value.key == "sources.web.license"
    assert "unknown SPDX license identifier" in str(err.value) and "LicenseRef-" in str(err.value)
