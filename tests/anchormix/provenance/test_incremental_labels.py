"""The provenance stage labels tonight's records, not all history, and lands where a full relabel would."""

from __future__ import annotations

import json

import pytest

from anchormix.dedup.near import NearDedupSettings
from anchormix.embed import EmbeddingSettings
from anchormix.provenance.detector import DetectorSettings
from anchormix.provenance.manifest import sign_text
from anchormix.readers import IngestSettings
from anchormix.stages.dedup import dedup_drop
from anchormix.stages.ingest import ingest_drop
from anchormix.stages.normalize import normalize_drop
from anchormix.stages.provenance import provenance_drop

FETCHED = "2026-03-01T01:00:00+00:00"
# No embedding block, so the test needs no sentence model; the incremental logic is the same.
SETTINGS = DetectorSettings(min_per_class=10, weight_emb=0.0, retrain_growth=0.25)


def _registry(path, keys):
    path.write_text(
        "[sources.archive]\nkind = \"licensed_human_archive\"\nlicense = \"PSF-2.0\"\ntrust_tier = \"high\"\n"
        f"public_keys = [{{ key_id = \"archive-1\", ed25519 = \"{keys['archive'][1]}\" }}]\n"
        f"[sources.crawl]\nkind = \"web_crawl\"\nlicense = \"CC-BY-4.0\"\ntrust_tier = \"medium\"\n"
        "[sources.gen]\nkind = \"generator\"\nlicense = \"Apache-2.0\"\ntrust_tier = \"high\"\n")
    return path


def _drop(inbox, drop, keys, signed, generated, crawled):
    rows = []
    for i, doc in enumerate(signed):
        m = sign_text(doc, source="archive", creator="CPython contributors", capture_time=FETCHED,
                      digital_source_type="digitalCapture", private_key=keys["archive"][0], key_id="archive-1")
        rows.append({"id": f"{drop}-s{i}", "text": doc, "source": "archive", "manifest": m})
    rows += [{"id": f"{drop}-g{i}", "text": t, "source": "gen"} for i, t in enumerate(generated)]
    rows += [{"id": f"{drop}-c{i}", "text": t, "source": "crawl"} for i, t in enumerate(crawled)]
    for r in rows:
        r.update(url=f"https://example.org/{r['id']}", fetched_at=FETCHED)
    (inbox / drop).mkdir(parents=True)
    (inbox / drop / "part.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _night(con, inbox, drop, registry, models):
    ingest_drop(con, inbox, drop, IngestSettings())
    normalize_drop(con, drop)
    dedup_drop(con, drop, NearDedupSettings())
    return provenance_drop(con, drop, registry, SETTINGS, models, embedding=EmbeddingSettings())


def _labels(con):
    classes = con.execute("SELECT id, class, reason FROM provenance ORDER BY id").fetchall()
    evidence = con.execute("SELECT id, drop, signal, value, verdict, ref FROM evidence ORDER BY ALL").fetchall()
    return classes, evidence


@pytest.fixture
def store(tmp_path, con, human_docs, machine_docs, keys):
    inbox = tmp_path / "inbox"
    h, m = human_docs, machine_docs
    _drop(inbox, "2026-03-01", keys, h[:40], m[:40], h[100:115] + m[100:110])
    _drop(inbox, "2026-03-02", keys, h[40:60], m[40:60], h[115:120] + m[110:115])
    _drop(inbox, "2026-03-03", keys, [], [], h[120:122])
    return con, inbox, _registry(tmp_path / "registry.toml", keys), tmp_path / "models"


def test_a_night_labels_its_own_records_and_history_only_when_the_model_changes(store):
    con, inbox, registry, models = store
    first = _night(con, inbox, "2026-03-01", registry, models)
    assert first["full_relabel"] and first["labelled"] == first["in_scope"] == 105
    v1 = first["detector"]["version"]
    assert first["detector"]["trained"] and v1

    # 40 new confident records on 80 (+50 %): a new model, so night 1's crawl records, whose classes came
    # from the old model's verdicts, are labelled again; its signed and generator records are not.
    second = _night(con, inbox, "2026-03-02", registry, models)
    assert not second["full_relabel"] and second["detector"]["retrained"]
    assert second["detector"]["version"] != v1
    assert second["detector"]["n_history_relabelled"] == 25
    assert second["labelled"] == 50 + 25 and second["in_scope"] == 155
    refs = dict(con.execute("SELECT DISTINCT ref, 1 FROM evidence WHERE signal = 'detector'").fetchall())
    assert set(refs) == {second["detector"]["version"]}

    # Two crawl records and no new confident ones: the model stands and only tonight is labelled.
    third = _night(con, inbox, "2026-03-03", registry, models)
    assert not third["detector"]["retrained"] and third["detector"]["version"] == second["detector"]["version"]
    assert third["labelled"] == 2 and third["detector"]["n_history_relabelled"] == 0
    assert sum(third["classes"].values()) == third["in_scope"] == 157

    # The same store labelled from scratch (no earlier basis) gives the same classes and evidence.
    incremental = _labels(con)
    con.execute("DELETE FROM label_runs")
    full = provenance_drop(con, "2026-03-03", registry, SETTINGS, models, embedding=EmbeddingSettings())
    assert full["full_relabel"] and full["labelled"] == 157
    assert _labels(con) == incremental


def test_a_changed_registry_labels_all_history_again(store, keys):
    con, inbox, registry, models = store
    _night(con, inbox, "2026-03-01", registry, models)
    # The crawl turns out to be a generator's output: its stored records, not only tonight's, are declared.
    registry.write_text(registry.read_text().replace('kind = "web_crawl"', 'kind = "generator"'))
    second = _night(con, inbox, "2026-03-02", registry, models)
    assert second["full_relabel"] and second["labelled"] == second["in_scope"] == 155
    crawl = dict(con.execute("SELECT p.class, count(*) FROM provenance p JOIN raw_records r USING (id) "
                             "WHERE r.source = 'crawl' GROUP BY 1").fetchall())
    assert crawl == {"synthetic_declared": 35}


def _licenses(con, source):
    from anchormix.stages.mix import LICENSE_SQL

    return dict(con.execute(f"SELECT r.drop, list(DISTINCT {LICENSE_SQL}) FROM raw_records r "
                            "WHERE r.source = ? GROUP BY 1", [source]).fetchall())


def test_a_registry_edit_does_not_relicense_records_already_in(store):
    con, inbox, registry, models = store
    _night(con, inbox, "2026-03-01", registry, models)
    # The crawl's terms change: records taken in under CC-BY-4.0 stay CC-BY-4.0, tonight's come in under NC.
    registry.write_text(registry.read_text().replace('license = "CC-BY-4.0"', 'license = "CC-BY-NC-4.0"'))
    second = _night(con, inbox, "2026-03-02", registry, models)
    assert second["full_relabel"]  # every record was labelled again and its registry evidence rewritten
    assert con.execute("SELECT count(*) FROM evidence e JOIN raw_records r USING (id) WHERE r.drop = '2026-03-01' "
                       "AND e.signal = 'registry' AND e.value LIKE '%CC-BY-NC-4.0%'").fetchone()[0] == 25
    assert _licenses(con, "crawl") == {"2026-03-01": ["CC-BY-4.0"], "2026-03-02": ["CC-BY-NC-4.0"]}
    # And back: the NC records keep NC, the first night's keep CC-BY-4.0.
    registry.write_text(registry.read_text().replace('license = "CC-BY-NC-4.0"', 'license = "CC-BY-4.0"'))
    _night(con, inbox, "2026-03-03", registry, models)
    assert _licenses(con, "crawl") == {"2026-03-01": ["CC-BY-4.0"], "2026-03-02": ["CC-BY-NC-4.0"],
                                       "2026-03-03": ["CC-BY-4.0"]}
    assert _licenses(con, "archive") == {"2026-03-01": ["PSF-2.0"], "2026-03-02": ["PSF-2.0"]}


def test_training_is_capped_per_class_and_growth_is_judged_on_the_whole_confident_set(store):
    con, inbox, registry, models = store
    capped = SETTINGS.model_copy(update={"max_train_per_class": 15})
    reports = []
    for drop in ("2026-03-01", "2026-03-02", "2026-03-03"):
        ingest_drop(con, inbox, drop, IngestSettings())
        normalize_drop(con, drop)
        dedup_drop(con, drop, NearDedupSettings())
        reports.append(provenance_drop(con, drop, registry, capped, models, embedding=EmbeddingSettings())["detector"])
    first, second, third = reports
    assert first["n_train"] == 30 and first["n_confident"] == 80  # 15 of each class out of 40 + 40
    assert second["retrained"] and second["n_train"] == 30 and second["n_confident"] == 120
    # Night 3 adds no confident record: 120 against 120, not against the 30 trained on, so the model stands.
    assert not third["retrained"] and third["version"] == second["version"]


def test_after_a_model_change_history_catches_up_within_a_nightly_budget(store):
    con, inbox, registry, models = store
    bounded = SETTINGS.model_copy(update={"rescore_per_night": 0.2, "rescore_min": 5})
    out = []
    for drop in ("2026-03-01", "2026-03-02", "2026-03-03"):
        ingest_drop(con, inbox, drop, IngestSettings())
        normalize_drop(con, drop)
        dedup_drop(con, drop, NearDedupSettings())
        out.append(provenance_drop(con, drop, registry, bounded, models, embedding=EmbeddingSettings()))
    v1, v2 = out[0]["detector"]["version"], out[1]["detector"]["version"]
    assert v1 != v2 and out[2]["detector"]["version"] == v2
    # Night 2: 25 night-1 records hold v1 verdicts; 0.2 x 50 records of tonight = 10 get v2, 15 wait.
    assert (out[1]["detector"]["n_history_relabelled"], out[1]["detector"]["n_history_deferred"]) == (10, 15)
    # Night 3 (2 records): the floor of 5 more, 10 still wait, and they keep v1's verdict, named as such.
    assert (out[2]["detector"]["n_history_relabelled"], out[2]["detector"]["n_history_deferred"]) == (5, 10)
    refs = dict(con.execute("SELECT ref, count(*) FROM evidence WHERE signal = 'detector' GROUP BY 1").fetchall())
    assert refs[v1] == 10 and set(refs) == {v1, v2}
