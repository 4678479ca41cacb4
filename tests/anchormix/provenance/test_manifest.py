"""Signed text manifests: a valid one verifies; each kind of tampering has its own verdict."""

from __future__ import annotations

import base64
import json

import pytest

from anchormix.normalize import normalize_text
from anchormix.provenance.manifest import (
    VERDICTS,
    canonical_bytes,
    content_hash,
    sign_text,
    verify_manifest,
)
from anchormix.provenance.sourcetypes import IPTC_BASE, origin, short_name

TIME = "2026-03-01T12:00:00+00:00"


@pytest.fixture
def text(human_docs):
    return human_docs[0]


@pytest.fixture
def signed(text, keys):
    return sign_text(text, source="archive", creator="CPython contributors", capture_time=TIME,
                     digital_source_type="digitalCapture", private_key=keys["archive"][0], key_id="archive-1")


def _resign(manifest: dict, private_pem: bytes) -> dict:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private_pem, password=None)
    fields = {k: v for k, v in manifest.items() if k != "signature"}
    return {**fields, "signature": base64.b64encode(key.sign(canonical_bytes(fields))).decode()}


def test_valid_manifest_verifies_as_dict_and_json(signed, text, registry):
    assert signed["digital_source_type"] == IPTC_BASE + "digitalCapture"
    assert signed["content_hash"] == content_hash(text)
    for form in (signed, json.dumps(signed)):
        check = verify_manifest(form, text, "archive", registry)
        assert check.verdict == "verified", check.detail
        assert (check.digital_source_type, check.origin, check.key_id) == ("digitalCapture", "human", "archive-1")


def test_whitespace_layout_does_not_break_the_hash(signed, text, registry):
    messy = "  " + text.replace(" ", "   ").replace("\n", "\r\n") + "\n\n\n"
    assert normalize_text(messy) == normalize_text(text)
    assert verify_manifest(signed, messy, "archive", registry).verdict == "verified"


def _tampered_text(signed, text, keys):
    return signed, text.replace(" ", "  x ", 1), "archive"


def _forged_signature(signed, text, keys):
    forged = bytearray(base64.b64decode(signed["signature"]))
    forged[0] ^= 0x01
    return {**signed, "signature": base64.b64encode(bytes(forged)).decode()}, text, "archive"


def _signed_by_attacker_key(signed, text, keys):
    # Same key id, but signed with a key the registry does not hold for it.
    return _resign(signed, keys["other"][0]), text, "archive"


def _altered_creator(signed, text, keys):
    return {**signed, "creator": "someone else"}, text, "archive"


def _altered_source_type(signed, text, keys):
    return {**signed, "digital_source_type": "trainedAlgorithmicMedia"}, text, "archive"


def _extra_field(signed, text, keys):
    return {**signed, "note": "added after signing"}, text, "archive"


def _unknown_key(signed, text, keys):
    return _resign({**signed, "key_id": "archive-9"}, keys["archive"][0]), text, "archive"


def _key_of_other_source(signed, text, keys):
    # Validly signed by a registered key, but one registered for "other", not "archive".
    return _resign({**signed, "key_id": "other-1"}, keys["other"][0]), text, "archive"


def _other_sources_manifest(signed, text, keys):
    return _resign({**signed, "source": "other", "key_id": "other-1"}, keys["other"][0]), text, "archive"


def _not_json(signed, text, keys):
    return json.dumps(signed)[:-5], text, "archive"


def _json_array(signed, text, keys):
    return "[1, 2, 3]", text, "archive"


def _missing_field(signed, text, keys):
    return {k: v for k, v in signed.items() if k != "capture_time"}, text, "archive"


def _bad_base64(signed, text, keys):
    return {**signed, "signature": "not base64 at all!"}, text, "archive"


def _unknown_source_type(signed, text, keys):
    return {**signed, "digital_source_type": "madeUpType"}, text, "archive"


def _numeric_field(signed, text, keys):
    return {**signed, "creator": 42}, text, "archive"


def _wrong_alg(signed, text, keys):
    return {**signed, "alg": "rsa"}, text, "archive"


CASES = [
    (_tampered_text, "hash_mismatch"),
    (_forged_signature, "bad_signature"),
    (_signed_by_attacker_key, "bad_signature"),
    (_altered_creator, "bad_signature"),
    (_altered_source_type, "bad_signature"),
    (_extra_field, "bad_signature"),
    (_unknown_key, "unknown_key"),
    (_key_of_other_source, "unknown_key"),
    (_other_sources_manifest, "source_mismatch"),
    (_not_json, "malformed"),
    (_json_array, "malformed"),
    (_missing_field, "malformed"),
    (_bad_base64, "malformed"),
    (_unknown_source_type, "malformed"),
    (_numeric_field, "malformed"),
    (_wrong_alg, "malformed"),
]


@pytest.mark.parametrize("make, verdict", CASES, ids=[c[0].__name__.strip("_") for c in CASES])
def test_each_tampering_gets_its_own_verdict(make, verdict, signed, text, keys, registry):
    manifest, record_text, source = make(signed, text, keys)
    check = verify_manifest(manifest, record_text, source, registry)
    assert check.verdict == verdict, check.detail
    assert not check.verified
    assert check.to_evidence("r1").verdict == verdict


@pytest.mark.parametrize("absent", [None, "", "   ", float("nan")])
def test_absent_manifest(absent, text, registry):
    assert verify_manifest(absent, text, "archive", registry).verdict == "absent"


@pytest.mark.parametrize("garbage", [b"\xff\xfe\x00", 12, object(), {"signature": None}, "null", "{}"])
def test_garbage_never_raises(garbage, text, registry):
    assert verify_manifest(garbage, text, "archive", registry).verdict == "malformed"


def test_unregistered_source_key_is_unknown(signed, text, keys, registry):
    moved = _resign({**signed, "source": "nowhere"}, keys["archive"][0])
    assert verify_manifest(moved, text, "nowhere", registry).verdict == "unknown_key"


def test_verdict_vocabulary_is_distinct():
    assert len(set(VERDICTS)) == len(VERDICTS) == 7


def test_sign_rejects_unknown_type_and_bad_time(text, keys):
    with pytest.raises(ValueError):
        sign_text(text, source="archive", creator="c", capture_time=TIME, digital_source_type="photoshopped",
                  private_key=keys["archive"][0], key_id="archive-1")
    with pytest.raises(ValueError):
        sign_text(text, source="archive", creator="c", capture_time="yesterday", digital_source_type="digitalCapture",
                  private_key=keys["archive"][0], key_id="archive-1")


@pytest.mark.parametrize("term, expected", [
    ("digitalCapture", "human"), ("humanEdits", "human"), ("minorHumanEdits", "human"),
    ("negativeFilm", "human"), ("digitalArt", "human"),
    ("trainedAlgorithmicMedia", "synthetic"), ("compositeSynthetic", "synthetic"),
    ("algorithmicMedia", "synthetic"), ("compositeWithTrainedAlgorithmicMedia", "synthetic"),
    (IPTC_BASE + "trainedAlgorithmicMedia", "synthetic"),
    ("https://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture", "human"),
    ("http://c2pa.org/digitalsourcetype/trainedAlgorithmicData", "synthetic"),
    ("http://example.org/digitalCapture", None), ("photo", None), (None, None),
])
def test_source_type_origin(term, expected):
    assert origin(term) == expected
    assert (short_name(term) is None) == (expected is None)
