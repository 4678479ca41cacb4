"""C2PA evidence on a PNG generated and signed at test time with a test CA."""

from __future__ import annotations

import io

import pytest

from anchormix.evidence import Evidence
from anchormix.provenance.classify import classify
from anchormix.provenance.media import digital_source_type, read_c2pa_evidence
from anchormix.provenance.sourcetypes import IPTC_BASE

c2pa = pytest.importorskip("c2pa")
Image = pytest.importorskip("PIL.Image")


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (24, 16), (30, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def signed_ai_png(sign_png) -> bytes:
    return sign_png("trainedAlgorithmicMedia")


@pytest.fixture(scope="module")
def signed_camera_png(sign_png) -> bytes:
    return sign_png("digitalCapture")


def _one(rows: list[Evidence]) -> Evidence:
    assert len(rows) == 1 and rows[0].signal == "c2pa"
    return rows[0]


def test_trusted_signer_is_verified_with_its_source_type(tmp_path, signed_ai_png, cert_chain):
    path = tmp_path / "ai.png"
    path.write_bytes(signed_ai_png)
    ev = _one(read_c2pa_evidence("r1", path, cert_chain["root_pem"].decode()))
    assert (ev.record_id, ev.verdict, ev.value) == ("r1", "verified", "trainedAlgorithmicMedia")
    assert "state=Trusted" in ev.ref
    assert classify([Evidence("r1", "registry", "web_crawl/mixed/medium", "registered", "crawl"), ev])[0] \
        == "synthetic_declared"


def test_camera_capture_from_trusted_signer_gives_human_verified(tmp_path, signed_camera_png, cert_chain):
    path = tmp_path / "camera.png"
    path.write_bytes(signed_camera_png)
    ev = _one(read_c2pa_evidence("r2", path, cert_chain["root_pem"].decode()))
    assert (ev.verdict, ev.value) == ("verified", "digitalCapture")
    reg = Evidence("r2", "registry", "licensed_human_archive/CC-BY-4.0/medium", "registered", "photos")
    assert classify([reg, ev])[0] == "human_verified"


def test_without_anchors_or_with_foreign_anchors_signer_is_untrusted(tmp_path, signed_camera_png, foreign_cert_chain):
    path = tmp_path / "camera.png"
    path.write_bytes(signed_camera_png)
    assert _one(read_c2pa_evidence("r", path, None)).verdict == "untrusted"
    foreign = foreign_cert_chain["root_pem"].decode()
    ev = _one(read_c2pa_evidence("r", path, foreign))
    assert ev.verdict == "untrusted" and "signingCredential.untrusted" in ev.ref
    reg = Evidence("r", "registry", "licensed_human_archive/CC-BY-4.0/high", "registered", "photos")
    assert classify([reg, ev])[0] != "human_verified"


def test_tampered_pixels_are_invalid_never_verified(tmp_path, signed_camera_png, cert_chain):
    data = bytearray(signed_camera_png)
    idat = data.find(b"IDAT")
    assert idat > 0
    data[idat + 8] ^= 0xFF
    path = tmp_path / "tampered.png"
    path.write_bytes(bytes(data))
    ev = _one(read_c2pa_evidence("r", path, cert_chain["root_pem"].decode()))
    assert ev.verdict == "invalid", ev.ref
    assert "failures=" in ev.ref
    reg = Evidence("r", "registry", "licensed_human_archive/CC-BY-4.0/high", "registered", "photos")
    cls, reason = classify([reg, ev])
    assert cls == "unknown" and "invalid" in reason


def test_plain_png_has_no_manifest(tmp_path):
    path = tmp_path / "plain.png"
    path.write_bytes(_png())
    assert _one(read_c2pa_evidence("r", path, None)).verdict == "absent"


def test_missing_or_garbage_file_is_unreadable(tmp_path):
    assert _one(read_c2pa_evidence("r", tmp_path / "nope.png", None)).verdict == "unreadable"
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    assert _one(read_c2pa_evidence("r", junk, None)).verdict in ("unreadable", "absent")


def test_synthetic_action_wins_over_capture():
    manifest = {"assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [
        {"action": "c2pa.created", "digitalSourceType": IPTC_BASE + "digitalCapture"},
        {"action": "c2pa.edited", "digitalSourceType": IPTC_BASE + "compositeWithTrainedAlgorithmicMedia"},
    ]}}]}
    assert digital_source_type(manifest) == "compositeWithTrainedAlgorithmicMedia"
    assert digital_source_type({"assertions": []}) == ""
