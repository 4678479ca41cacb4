"""label_records end to end on real human docstrings and machine text."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from anchormix.evidence import EVIDENCE_COLUMNS
from anchormix.normalize import content_hash, normalize_text
from anchormix.provenance.detector import DetectorSettings
from anchormix.provenance.labeler import MemoryScoreCache, label_records
from anchormix.provenance.manifest import sign_text
from anchormix.provenance.registry import Registry

from _detector_helpers import cached_embed, translations  # noqa: E402  (this folder is on sys.path)

FETCHED = "2026-03-01T01:00:00+00:00"
DETECTOR_KEYS = {"trained", "reason", "version", "heldout_auroc", "threshold", "precision", "recall",
                 "n_train", "n_test"}


def _row(rid, text, source, manifest=None, media_path=None, fetched_at=FETCHED):
    norm = normalize_text(text)
    return {"id": rid, "source": source, "norm_text": norm, "content_hash": content_hash(norm),
            "fetched_at": fetched_at, "manifest": json.dumps(manifest) if manifest else None,
            "media_path": media_path}


@pytest.fixture(scope="module")
def photo_registry(keys, cert_chain, sign_png, tmp_path_factory) -> tuple[Registry, str]:
    base = tmp_path_factory.mktemp("registry")
    (base / "anchors.pem").write_bytes(cert_chain["root_pem"])
    image = base / "camera.png"
    image.write_bytes(sign_png("digitalCapture"))
    reg = Registry.model_validate({"sources": {
        "archive": {"kind": "licensed_human_archive", "license": "PSF-2.0", "trust_tier": "high",
                    "public_keys": [{"key_id": "archive-1", "ed25519": keys["archive"][1]}]},
        "crawl": {"kind": "web_crawl", "license": "LicenseRef-mixed-crawl", "trust_tier": "medium"},
        "gen": {"kind": "generator", "license": "Apache-2.0", "trust_tier": "high"},
        "photos": {"kind": "web_crawl", "license": "CC-BY-4.0", "trust_tier": "medium",
                   "c2pa_trust_anchors": "anchors.pem"},
    }}, context={"base_dir": base})
    return reg, str(image)


def _records(human_docs, machine_docs, keys, image_path, n=100):
    pem = keys["archive"][0]
    rows = []
    for i, doc in enumerate(human_docs[:n]):
        m = sign_text(doc, source="archive", creator="CPython contributors", capture_time=FETCHED,
                      digital_source_type="digitalCapture", private_key=pem, key_id="archive-1")
        rows.append(_row(f"signed-{i}", doc, "archive", m))
    for i, doc in enumerate(human_docs[n:n + 2]):
        m = sign_text(doc, source="archive", creator="c", capture_time=FETCHED,
                      digital_source_type="digitalCapture", private_key=pem, key_id="archive-1")
        rows.append(_row(f"tampered-{i}", doc + " Appended after signing.", "archive", m))
    rows += [_row(f"gen-{i}", t, "gen") for i, t in enumerate(machine_docs[:n])]
    rows += [_row(f"crawl-h-{i}", t, "crawl") for i, t in enumerate(human_docs[n + 2:n + 22])]
    rows += [_row(f"crawl-m-{i}", t, "crawl") for i, t in enumerate(machine_docs[n:n + 20])]
    rows.append(_row("stray-0", machine_docs[n + 20], "nowhere"))
    rows.append(_row("photo-0", human_docs[n + 22], "photos", media_path=image_path))
    return pd.DataFrame(rows)


def test_labels_every_record_with_evidence_and_trains_on_confident_classes(
        human_docs, machine_docs, keys, photo_registry, tmp_path):
    registry, image = photo_registry
    records = _records(human_docs, machine_docs, keys, image)
    # Presume at the human median rather than the default 30 % quantile: these crawl docstrings come from other
    # modules than the signed ones and score a little higher, and the test wants some of them presumed.
    result = label_records(records, registry, DetectorSettings(presume_human_quantile=0.5), tmp_path / "models",
                           embed=cached_embed)
    classes = result.classes.set_index("id")["class"]
    assert list(result.classes.columns) == ["id", "class", "reason"]
    assert list(result.evidence.columns) == list(EVIDENCE_COLUMNS)
    assert set(classes.index) == set(records["id"])

    group = lambda prefix: classes[classes.index.str.startswith(prefix)]  # noqa: E731
    assert (group("signed-") == "human_verified").all()
    assert (group("gen-") == "synthetic_declared").all()
    assert classes["photo-0"] == "human_verified"
    assert (group("tampered-") != "human_verified").all()
    assert not group("tampered-").str.startswith("human").any()
    # Humans: presumed only when the score is at or below the human median (the rest too close to call). These
    # docstrings come from other modules than the training ones, so fewer of them reach it.
    assert (group("crawl-h-") == "human_presumed").any()
    # (The Markov text is built from every docstring, these modules' too, so a few of them look generated.)
    assert (group("crawl-h-") == "synthetic_suspected").mean() <= 0.25
    assert (group("crawl-m-") == "synthetic_suspected").mean() >= 0.8
    assert not (group("crawl-m-") == "human_presumed").any()
    uncertain = result.classes.set_index("id").loc[group("crawl-").index]
    assert uncertain["reason"].str.contains("too close to call").any()
    assert classes["stray-0"] in ("unknown", "synthetic_suspected")

    det = result.detector
    assert DETECTOR_KEYS <= set(det) and det["trained"] and det["trusted"]
    assert det["n_train"] == 201  # 100 signed + 100 generator + the verified photo: the final model sees all
    ev = result.evidence
    tampered = ev[(ev.record_id == "tampered-0") & (ev.signal == "text_manifest")]
    assert tampered["verdict"].tolist() == ["hash_mismatch"]
    scored = ev[ev.signal == "detector"]
    assert set(scored["ref"]) == {det["version"]}
    assert set(scored["verdict"]) <= {"suspected", "below_threshold", "uncertain", "abstained"}
    assert not scored.record_id.str.startswith(("signed-", "gen-")).any()  # only unknowns are scored
    assert set(scored.record_id) >= {"tampered-0", "stray-0", "crawl-h-0"}
    photo = ev[(ev.record_id == "photo-0") & (ev.signal == "c2pa")]
    assert photo[["value", "verdict"]].values.tolist() == [["digitalCapture", "verified"]]
    reg = ev[(ev.record_id == "stray-0") & (ev.signal == "registry")]
    assert reg["verdict"].tolist() == ["unregistered"]
    per_record = ev.groupby("record_id")["signal"].apply(set)
    assert all({"registry", "text_manifest", "capture_date"} <= s for s in per_record)


def test_no_detector_when_too_few_labelled(human_docs, machine_docs, keys, photo_registry, tmp_path):
    registry, image = photo_registry
    records = _records(human_docs, machine_docs, keys, image, n=5)
    result = label_records(records, registry, DetectorSettings(), tmp_path, embed=cached_embed)
    assert result.detector["trained"] is False and "too few" in result.detector["reason"]
    assert (result.evidence.signal != "detector").all()
    classes = result.classes.set_index("id")["class"]
    assert (classes[classes.index.str.startswith("crawl-")] == "unknown").all()


def test_untrusted_detector_is_recorded_but_labels_nothing(human_docs, machine_docs, keys, photo_registry, tmp_path):
    registry, image = photo_registry
    records = _records(human_docs, machine_docs, keys, image)
    # A floor no AUROC reaches; the settings model refuses it (bounds 0.5..1), so it is built unvalidated.
    unreachable = DetectorSettings.model_construct(auroc_floor=1.01)
    result = label_records(records, registry, unreachable, tmp_path, embed=cached_embed)
    assert result.detector["trained"] and not result.detector["trusted"]
    assert (result.evidence.signal == "detector").any()
    crawl = result.classes[result.classes.id.str.startswith("crawl-")]
    assert (crawl["class"] == "unknown").all()
    assert crawl["reason"].str.contains("not trusted").all()


def test_capture_cutoff_blocks_presumption_after_it(human_docs, machine_docs, keys, photo_registry, tmp_path):
    registry, image = photo_registry
    records = _records(human_docs, machine_docs, keys, image)
    from datetime import date

    result = label_records(records, registry, DetectorSettings(presume_human_before=date(2022, 11, 30)), tmp_path,
                           embed=cached_embed)
    crawl_h = result.classes[result.classes.id.str.startswith("crawl-h-")]
    assert not (crawl_h["class"] == "human_presumed").any()
    dates = result.evidence[(result.evidence.signal == "capture_date")]
    assert set(dates["verdict"]) == {"after_cutoff"}


def _odd_rows():
    """Crawl records the detector must abstain on: short, emoji-only, another script, empty."""
    return [_row("odd-short", "https://docs.python.org/3/", "crawl"),
            _row("odd-emoji", "\U0001F600\U0001F389 " * 30, "crawl"),
            _row("odd-cjk", translations("zh_CN"), "crawl"),
            {**_row("odd-empty", "x", "crawl"), "norm_text": None}]


def test_abstained_records_stay_unknown_with_the_reason(human_docs, machine_docs, keys, photo_registry, tmp_path):
    registry, image = photo_registry
    records = pd.concat([_records(human_docs, machine_docs, keys, image), pd.DataFrame(_odd_rows())])
    result = label_records(records, registry, DetectorSettings(), tmp_path, embed=cached_embed)
    ev = result.evidence[result.evidence.signal == "detector"].set_index("record_id")
    classes = result.classes.set_index("id")
    for rid, code in (("odd-short", "too_short"), ("odd-emoji", "no_letters"), ("odd-cjk", "unseen_script"),
                      ("odd-empty", "no_text")):
        assert ev.loc[rid, "verdict"] == "abstained" and ev.loc[rid, "value"].startswith(code), rid
        assert classes.loc[rid, "class"] == "unknown"
        assert classes.loc[rid, "reason"].startswith("detector abstained"), classes.loc[rid, "reason"]
    assert result.detector["n_abstained"] >= 4


def test_incremental_no_stale_rescoring_and_retraining_only_on_growth(
        human_docs, machine_docs, keys, photo_registry, tmp_path):
    registry, image = photo_registry
    records = _records(human_docs, machine_docs, keys, image)
    cache = MemoryScoreCache()
    settings = DetectorSettings(retrain_growth=0.5)
    first = label_records(records, registry, settings, tmp_path, embed=cached_embed, score_cache=cache,
                          today="2026-03-01")
    version = first.detector["version"]
    assert first.detector["retrained"] and first.detector["n_scored"] > 0

    # Same records, model kept: nothing is assessed again, every verdict comes from the cache.
    again = label_records(records, registry, settings, tmp_path, embed=cached_embed, score_cache=cache,
                          previous_version=version, today="2026-03-02")
    assert not again.detector["retrained"] and again.detector["version"] == version
    assert again.detector["n_scored"] == 0 and again.detector["n_score_cached"] == first.detector["n_scored"]
    pd.testing.assert_frame_equal(again.classes, first.classes)

    # One crawl text edited: only that record is assessed.
    edited = records.copy()
    i = edited.index[edited.id == "crawl-h-0"][0]
    edited.loc[i, "norm_text"] = edited.loc[i, "norm_text"] + " Edited later."
    edited.loc[i, "content_hash"] = content_hash(edited.loc[i, "norm_text"])
    third = label_records(edited, registry, settings, tmp_path, embed=cached_embed, score_cache=cache,
                          previous_version=version, today="2026-03-03")
    assert not third.detector["retrained"] and third.detector["n_scored"] == 1

    # A training record's text edited: its old label no longer stands, so a new model version is trained.
    j = edited.index[edited.id == "gen-0"][0]
    edited.loc[j, "norm_text"] = edited.loc[j, "norm_text"] + " Edited later."
    edited.loc[j, "content_hash"] = content_hash(edited.loc[j, "norm_text"])
    fourth = label_records(edited, registry, settings, tmp_path, embed=cached_embed, score_cache=cache,
                           previous_version=version, today="2026-03-04")
    assert fourth.detector["retrained"] and fourth.detector["version"] != version
    assert "no longer" in fourth.detector["retrain_reason"]
