"""Detector mechanics: settings, folds, the flag-rate threshold, bounded features, abstention, versioning."""

from __future__ import annotations

import math

import numpy as np
import pytest

from anchormix.errors import ConfigError
from anchormix.provenance.detector import (
    BLOCK_LOGIT_CAP,
    DetectorSettings,
    binomial_excess_p,
    flag_rate_threshold,
    folds_by_id,
    health,
    load_detector,
    model_path,
    retrain_decision,
    split_by_id,
    train_detector,
)
from anchormix.provenance.detector_features import N_STYLE, style_features
from anchormix.settings_base import parse_section

from _detector_helpers import cached_embed, translations  # noqa: E402  (this folder is on sys.path)

def test_settings_defaults_and_errors():
    s = DetectorSettings.model_validate({})
    assert (s.auroc_floor, s.min_per_class, s.max_human_flag_rate, s.presume_human_before) == (0.85, 20, 0.02, None)
    assert (s.retrain_growth, s.retrain_every_days) == (0.25, 0)
    assert str(DetectorSettings.model_validate({"presume_human_before": "2022-11-30"}).presume_human_before) == "2022-11-30"
    for bad, key in [({"auroc_floor": 1.5}, "detector.auroc_floor"),
                     ({"min_per_class": 1}, "detector.min_per_class"),
                     ({"max_human_flag_rate": 0.9}, "detector.max_human_flag_rate"),
                     ({"presume_human_before": "last year"}, "detector.presume_human_before"),
                     ({"test_fraction": 0.0}, "detector.test_fraction"),
                     ({"retrain_growth": -1}, "detector.retrain_growth"),
                     ({"weight_word": 0, "weight_char": 0, "weight_emb": 0, "weight_style": 0}, "detector.weight_word"),
                     ({"threshold_policy": "max_f1"}, "detector.threshold_policy"),
                     ({"thresh": 0.5}, "detector.thresh")]:
        with pytest.raises(ConfigError) as err:
            parse_section(DetectorSettings, bad, "detector")
        assert err.value.key == key


def test_split_and_folds_are_stratified_deterministic_and_keyed_by_id():
    ids = [f"r{i}" for i in range(200)]
    labels = np.array([0] * 50 + [1] * 150)
    test = split_by_id(ids, labels, 0.2, seed=1)
    assert test[labels == 0].sum() == 10 and test[labels == 1].sum() == 30
    assert (split_by_id(ids, labels, 0.2, seed=1) == test).all()
    assert not (split_by_id(ids, labels, 0.2, seed=2) == test).all()
    order = np.random.default_rng(0).permutation(200)
    assert (split_by_id([ids[i] for i in order], labels[order], 0.2, seed=1) == test[order]).all()
    folds = folds_by_id(ids, labels, 5, seed=0)
    assert all((folds[labels == c] == f).sum() == n // 5 for c, n in ((0, 50), (1, 150)) for f in range(5))
    assert (folds_by_id([ids[i] for i in order], labels[order], 5, 0) == folds[order]).all()


def test_flag_rate_threshold_is_conformal_and_says_when_it_cannot_certify():
    scores = np.random.default_rng(0).random(999)
    t, rule = flag_rate_threshold(scores, 0.02)
    assert (scores >= t).mean() <= 0.02 and (scores >= np.nextafter(t, -1)).mean() > 0.015
    assert "conformal" in rule
    # 20 humans cannot certify a 2 % rate: the threshold sits above all of them, and the rule says so.
    t, rule = flag_rate_threshold(scores[:20], 0.02)
    assert t > scores[:20].max() and "too few" in rule
    # Fresh humans from the same distribution are flagged at about the target rate.
    fresh = np.random.default_rng(1).random(100_000)
    assert abs((fresh >= flag_rate_threshold(scores, 0.02)[0]).mean() - 0.02) < 0.01


def test_binomial_tolerance():
    assert binomial_excess_p(0, 500, 0.02) == 1.0
    assert binomial_excess_p(10, 500, 0.02) > 0.4  # at the target: no evidence of excess
    assert binomial_excess_p(25, 500, 0.02) < 0.01  # 5 % of 500 is beyond chance


def test_style_features_are_bounded_for_any_length():
    odd = ["One two three. Four five!", "", None, float("nan"), "a", "https://example.org/x",
           "word " * 40_000, "\U0001F600" * 50, "i think i can. i know i will."]
    rows = style_features(odd)
    assert rows.shape == (len(odd), N_STYLE) and np.isfinite(rows).all()
    assert rows.min() >= 0.0 and rows.max() <= 1.0
    assert (rows[1:4] == 0).all()  # no text, no features
    assert rows[8, 6] == 1.0 and rows[8, 5] == 1.0  # lower-case "i", sentences starting lower-case


def _style_row_one_text(text: str) -> list[float]:
    """The style block's definition for one text, a regex call per word and sentence."""
    from anchormix.provenance.detector_features import _ALPHA_WORD as word, _SENTENCE as sentence

    head = text[:50_000]
    toks = word.findall(head)
    if not toks:
        return [0.0] * N_STYLE
    sentences = [s for s in (m.group().strip() for m in sentence.finditer(head)) if s]
    lengths = [len(word.findall(s)) for s in sentences] or [len(toks)]
    mean = sum(lengths) / len(lengths)
    n_sent = max(len(sentences), 1)
    return [len({w.lower() for w in toks[:100]}) / min(100, len(toks)), sum(map(len, toks)) / len(toks) / 12,
            max(mean, 1) / 60, float(np.std(lengths)) / max(mean, 1) / 2, text.count(",") / len(toks) * 4,
            sum(s[:1].islower() for s in sentences) / n_sent, toks.count("i") / len(toks) * 20,
            sum(s.endswith(("!", "?")) for s in sentences) / n_sent, head.count("\n") / len(toks) * 10,
            (len(head) - sum(map(str.isalnum, head)) - sum(map(str.isspace, head))) / max(1, len(head)) * 5,
            sum(map(str.isdigit, head)) / max(1, len(head)) * 10,
            sum(map(str.isupper, head)) / max(1, sum(map(str.isalpha, head))) * 5]


def test_style_features_of_a_batch_are_each_texts_own(human_docs, machine_docs, monkeypatch):
    import anchormix.provenance.detector_features as features

    odd = ["don't 'quote' it\u2019s a\u2019\u2019b x' y'z'",
           "Ab\u00b2c 3rd! \u216b \u2177 stra\u00dfe \u03a3\u0391. \ufb01ne?",
           "  \n\n . . ! ? ...  x", "\ud800 lone surrogate. i",
           "l'\u00e9t\u00e9 c\u2019\u00e9tait, \U0001d400bc \U00010400x.",
           " ".join(["w%d" % i for i in range(150)]) + " " + " ".join(["word"] * 150), "A" * 60_000 + ". b, c",
           "\x00abc\x00 def. I i i.", "One.\nTwo!\n\nthree? four"]
    texts = odd + human_docs[:40] + machine_docs[:40]
    want = np.clip(np.array([_style_row_one_text(t) for t in texts], dtype=np.float32), 0, 1)
    assert np.allclose(style_features(texts), want, rtol=1e-6, atol=1e-7)
    monkeypatch.setattr(features, "_BATCH_CHARS", 500)  # many small batches, and texts longer than one
    assert np.allclose(style_features(texts), want, rtol=1e-6, atol=1e-7)


def test_too_few_records_is_reported_not_raised(human_docs, machine_docs, tmp_path):
    det, report = train_detector(["a", "b", "c"], human_docs[:2] + machine_docs[:1], [0, 0, 1],
                                 DetectorSettings(), tmp_path)
    assert det is None and report["trained"] is False and report["trusted"] is False
    assert "too few" in report["reason"] and not list(tmp_path.iterdir())


def test_an_all_empty_training_set_yields_no_detector_with_a_reason(tmp_path):
    texts = ["", None, float("nan"), "   "] * 20
    det, report = train_detector([f"r{i}" for i in range(80)], texts, [0, 1] * 40, DetectorSettings(), tmp_path)
    assert det is None and report["trained"] is False
    assert "80 of 80 are empty or shorter than" in report["reason"] and not list(tmp_path.iterdir())


@pytest.fixture(scope="module")
def trained(human_docs, machine_docs, tmp_path_factory):
    texts = human_docs[:100] + machine_docs[:100]
    ids = [f"h{i}" for i in range(100)] + [f"m{i}" for i in range(100)]
    labels = [0] * 100 + [1] * 100
    sources = ["archive"] * 100 + ["gen-a"] * 50 + ["gen-b"] * 50
    model_dir = tmp_path_factory.mktemp("models")
    det, report = train_detector(ids, texts, labels, DetectorSettings(), model_dir, sources=sources,
                                 embed=cached_embed)
    return det, report, model_dir, (ids, texts, labels, sources)


def test_trains_on_everything_and_reports_flag_rate_recall_and_sources(trained, human_docs, machine_docs):
    det, report, _, _ = trained
    assert report["trained"] and report["trusted"], report.get("reason")
    assert report["cv_auroc"] >= 0.9 and report["n_train"] == 200  # the final model saw every record
    assert report["threshold"] == det.threshold and "conformal" in report["threshold_rule"]
    assert report["oof_human_flag_rate"] <= 0.02 and 0 <= report["human_flag_rate"] <= 0.05
    assert report["recall"] >= 0.5 and report["precision"] == pytest.approx(
        report["recall"] / (report["recall"] + report["oof_human_flag_rate"]))
    by_source = {r["source"]: r for r in report["sources"]}
    assert by_source["gen-a"]["held_out"] and by_source["gen-b"]["held_out"]
    assert by_source["gen-a"]["auroc"] is not None and by_source["gen-a"]["recall"] is not None
    assert not by_source["archive"]["held_out"] and "only source" in by_source["archive"]["note"]
    assert report["loso_min_auroc"] == min(by_source[s]["auroc"] for s in ("gen-a", "gen-b"))
    unseen_h = det.score(human_docs[100:140], embed=cached_embed)
    unseen_m = det.score(machine_docs[100:140], embed=cached_embed)
    assert np.nanmean(unseen_m) > np.nanmean(unseen_h)
    assert (unseen_h[~np.isnan(unseen_h)] >= det.threshold).mean() <= 0.1


def test_no_feature_block_alone_reaches_certainty(trained):
    det, _, _, _ = trained
    model = det.model
    names = list(model.features.spans)
    assert set(names) == {"word", "char", "emb", "style"}
    neutral = np.zeros((1, len(names)))
    base = model.logit_from(neutral)[0]
    for j in range(len(names)):
        for push in (-1e9, 1e9):
            c = neutral.copy()
            c[0, j] = push
            # One block's term lies in (-cap, cap) whatever its input: it moves the log-odds by < 2 * cap.
            assert abs(model.logit_from(c)[0] - base) < 2 * BLOCK_LOGIT_CAP
    # One block at its cap and the others neutral cannot reach certainty.
    assert 1 / (1 + math.exp(-BLOCK_LOGIT_CAP)) < 0.96


def test_odd_texts_that_broke_the_old_features_abstain_or_stay_uncertain(trained):
    det, _, _, _ = trained
    # 40,000 repeated words: scored (long, Latin), but by bounded features: never the old 0.0.
    [a] = det.assess(["the " * 40_000], embed=cached_embed)
    assert a.verdict == "abstained" or 0.0 < a.score < 1.0


def test_abstains_on_missing_short_emoji_and_unseen_script_or_language(trained):
    det, _, _, _ = trained
    cases = {
        "none": (None, "no_text"), "nan": (float("nan"), "no_text"), "empty": ("", "no_text"),
        "blank": ("  \n ", "no_text"), "a": ("a", "too_short"), "url": ("https://docs.python.org/3/", "too_short"),
        "emoji": ("\U0001F600\U0001F389\U0001F680 " * 40, "no_letters"),
        "chinese": (translations("zh_CN"), "unseen_script"), "russian": (translations("ru_RU"), "unseen_script"),
        "german": (translations("de_DE"), "unseen_language"),
    }
    verdicts = det.assess([t for t, _ in cases.values()], embed=cached_embed)
    for (name, (_, code)), v in zip(cases.items(), verdicts):
        assert v.verdict == "abstained" and v.score is None, (name, v)
        assert v.reason.startswith(code), (name, v.reason)
    scores = det.score([None, float("nan"), "a"], embed=cached_embed)
    assert np.isnan(scores).all()


def test_version_is_stable_saved_loadable_and_hashes_texts(trained, tmp_path):
    det, report, model_dir, (ids, texts, labels, sources) = trained
    assert model_path(model_dir, det.version).is_file()
    loaded = load_detector(model_dir, det.version)
    assert loaded.threshold == det.threshold and loaded.training_keys == det.training_keys
    assert np.allclose(loaded.score(texts[:5], embed=cached_embed), det.score(texts[:5], embed=cached_embed))
    again, _ = train_detector(ids, texts, labels, DetectorSettings(), model_dir, sources=sources, embed=cached_embed)
    assert again.version == det.version
    relabelled, _ = train_detector(ids, texts, labels[:-1] + [0], DetectorSettings(), tmp_path, sources=sources,
                                   embed=cached_embed)
    assert relabelled.version != det.version
    # Same ids, same labels, one text edited: a new model, never the stale one.
    edited = texts[:3] + [texts[3] + " Edited."] + texts[4:]
    changed, _ = train_detector(ids, edited, labels, DetectorSettings(), tmp_path, sources=sources,
                                embed=cached_embed)
    assert changed.version != det.version
    with pytest.raises(FileNotFoundError):
        load_detector(model_dir, "000000000000")


def test_health_blocks_on_auroc_or_on_excess_flag_rate(trained):
    _, report, _, _ = trained
    assert health(report, 0.5)["passed"]
    low = health(report, report["loso_min_auroc"] + 1e-6)
    assert not low["passed"] and "leave-one-source-out" in low["reasons"][0]
    noisy = {**report, "cv_flagged": 20, "cv_flag_n": 100}
    verdict = health(noisy, 0.5)
    assert not verdict["passed"] and "beyond chance" in verdict["reasons"][0]
    assert health({**report, "cv_flagged": 3, "cv_flag_n": 100}, 0.5)["passed"]  # 3 % of 100 is chance
    # A human source held out and then flagged far above the target blocks too.
    new_source = {"source": "tweets", "label": "human", "n": 200, "held_out": True, "auroc": 0.99,
                  "flag_rate": 0.2, "flagged": 40}
    verdict = health({**report, "sources": report["sources"] + [new_source]}, 0.5)
    assert not verdict["passed"] and "held-out source tweets" in verdict["reasons"][0]


def test_retrain_decision(trained):
    det, _, _, _ = trained
    keys = list(det.training_keys)
    s = DetectorSettings(retrain_growth=0.1, retrain_every_days=7)
    det.trained_on = "2026-01-01"
    assert retrain_decision(None, keys, s)[0]
    assert not retrain_decision(det, keys, s, "2026-01-02")[0]
    assert not retrain_decision(det, keys + [(f"x{i}", 0) for i in range(19)], s, "2026-01-02")[0]
    grew, why = retrain_decision(det, keys + [(f"x{i}", 0) for i in range(20)], s, "2026-01-02")
    assert grew and "grew 10%" in why
    assert retrain_decision(det, keys, s, "2026-01-08")[0]  # a week old
    changed, why = retrain_decision(det, keys[1:] + [("edited", keys[0][1])], s, "2026-01-02")
    assert changed and "no longer" in why
    assert math.isclose(DetectorSettings().retrain_growth, 0.25)
