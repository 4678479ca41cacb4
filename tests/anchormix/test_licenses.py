"""SPDX license expressions: validation, what packages declare, and the mix's license policy."""

from __future__ import annotations

import importlib.metadata as md

import pytest

from anchormix.errors import ConfigError
from anchormix.licenses import NOASSERTION, declared_to_spdx, license_verdict, normalize_license
from anchormix.mix import MixPolicy
from anchormix.settings_base import parse_section


@pytest.mark.parametrize("value, canonical", [
    ("mit", "MIT"),
    ("mit or apache-2.0", "MIT OR Apache-2.0"),
    ("GPL-2.0-only WITH Classpath-exception-2.0", "GPL-2.0-only WITH Classpath-exception-2.0"),
    ("LicenseRef-acme-deal.2026", "LicenseRef-acme-deal.2026"),
    ("CC-BY-NC-SA-4.0 AND LicenseRef-x", "CC-BY-NC-SA-4.0 AND LicenseRef-x"),
    ("noassertion", NOASSERTION),
])
def test_spdx_expressions_are_kept_in_canonical_form(value, canonical):
    assert normalize_license(value) == canonical


@pytest.mark.parametrize("value", ["mixed", "Apache 2.0", "MIT AND", "LicenseRef-has space", "", "MIT OR NOASSERTION"])
def test_anything_else_is_refused(value):
    with pytest.raises(ValueError):
        normalize_license(value)


def test_what_installed_packages_declare_becomes_spdx_or_a_license_ref():
    from anchormix.demo.docstrings import package_license

    for dist in ("numpy", "pandas", "jinja2", "click", "requests", "pyarrow", "cryptography", "mlcroissant"):
        declared = package_license(dist)
        assert normalize_license(declared) == declared, (dist, declared)
    # A classifier that is no SPDX id keeps its wording behind LicenseRef-.
    assert declared_to_spdx("BSD License") == "LicenseRef-BSD-License"
    assert declared_to_spdx("") == declared_to_spdx("UNKNOWN") == NOASSERTION
    assert declared_to_spdx(md.metadata("cryptography").get("License-Expression")) == "Apache-2.0 OR BSD-3-Clause"


COMMERCIAL = ["CC-BY-NC*", "CC-BY-ND*"]


@pytest.mark.parametrize("expression, permitted", [
    ("CC-BY-4.0", True),
    ("CC-BY-NC-4.0", False),
    ("CC-BY-NC-ND-4.0", False),
    ("CC-BY-ND-4.0", False),
    ("MIT OR CC-BY-NC-4.0", True),      # one way to comply is enough
    ("MIT AND CC-BY-NC-4.0", False),    # every part must comply
    (NOASSERTION, True),
    ("mixed", False),                   # not SPDX: never permitted under a policy
])
def test_a_commercial_policy_denies_nc_and_nd_terms(expression, permitted):
    ok, why = license_verdict(expression, denied=COMMERCIAL)
    assert ok is permitted
    assert (why == "") is permitted


def test_an_allow_list_needs_every_and_operand_allowed():
    assert license_verdict("MIT AND Apache-2.0", allowed=["MIT", "Apache-*"]) == (True, "")
    ok, why = license_verdict("MIT AND GPL-3.0-only", allowed=["MIT", "Apache-*"])
    assert not ok and "GPL-3.0-only is not in allowed_licenses" in why
    assert license_verdict(NOASSERTION, allowed=["MIT"])[0] is False
    assert license_verdict("anything at all") == (True, "")  # no policy, nothing judged


@pytest.mark.parametrize("data, key", [
    ({"denied_licenses": ["MIT OR Apache-2.0"]}, "mix.denied_licenses[0]"),
    ({"allowed_licenses": ["CC-BY-4.0", "not-a-license"]}, "mix.allowed_licenses[1]"),
    ({"allowed_licenses": "MIT"}, "mix.allowed_licenses"),
    ({"denied_licenses": [""]}, "mix.denied_licenses[0]"),
])
def test_a_bad_policy_fails_at_load_naming_its_key(data, key):
    with pytest.raises(ConfigError) as err:
        parse_section(MixPolicy, data, "mix")
    assert err.value.key == key, str(err.value)


def test_the_policy_is_part_of_the_candidate_policy():
    policy = parse_section(MixPolicy, {"denied_licenses": ["cc-by-nc*", "cc-by-nd-4.0"]}, "mix")
    assert policy.to_dict()["denied_licenses"] == ["cc-by-nc*", "CC-BY-ND-4.0"]
    assert MixPolicy.model_validate(policy.to_dict()) == policy
