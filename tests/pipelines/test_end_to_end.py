"""End to end on a small demo inbox, through Dagster, with every gate real.

One module-scoped pipeline history is built once and then asserted from
several angles: publication, conservation, quarantine, idempotent re-runs (zero
new embeddings), and a failing ratio gate that stops curated_mix in the same run
and in a later run that selects curated_mix alone.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from dagster import AssetKey, instance_for_test

pytestmark = pytest.mark.slow

REPLACE = {"ops": {"mix_candidate": {"config": {"mode": "replace"}}}}


def _store():
    # The same opener as the pipeline: DuckDB refuses a second in-process connection with other settings.
    from pipelines.resources import duckdb_resource, open_store

    return open_store(duckdb_resource())


def _meta(result, asset: str) -> dict:
    [materialization] = result.asset_materializations_for_node(asset)
    return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}


def _checks(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


@pytest.fixture(scope="module")
def history():
    from anchormix.demo.inbox import GENERATOR_SOURCE, build_demo_inbox
    from anchormix.demo.markov import MarkovModel
    from pipelines.definitions import defs
    from pipelines.demo import PRE_BASELINE, run_nightly
    from pipelines.settings import settings

    cfg = settings()
    today = datetime.now(timezone.utc).date()
    built = build_demo_inbox(cfg.paths.inbox, cfg.paths.registry, cfg.paths.models.parent / "keys",
                             nights=[today - timedelta(days=5), today - timedelta(days=4)],
                             max_text_bytes=cfg.ingest.max_text_bytes, scale=0.5)
    night1 = built.drops[0]
    # A third night of declared generator output only: under replace no human record is eligible.
    night3 = (datetime.fromisoformat(built.drops[-1]) + timedelta(days=1)).date().isoformat()
    human = [r["text"] for r in map(json.loads, (cfg.paths.inbox / night1 / "stdlib-signed.jsonl").open())]
    fetched = datetime.now(timezone.utc).isoformat()
    rows = [{"id": f"n3-{i}", "url": f"generator://n3/{i}", "fetched_at": fetched, "text": t, "source": GENERATOR_SOURCE}
            for i, t in enumerate(MarkovModel.train(human).generate(120, seed=99))]
    (cfg.paths.inbox / night3).mkdir(parents=True)
    (cfg.paths.inbox / night3 / "gen.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    out = {"settings": cfg, "night1": night1, "night3": night3, "counts": built.counts}
    with instance_for_test() as instance:
        job = defs.resolve_job_def("nightly")

        def run(drop, run_config=None, selection=None):
            kwargs = {"asset_selection": [AssetKey(k) for k in selection]} if selection else {}
            return job.execute_in_process(partition_key=drop, instance=instance, run_config=run_config or {},
                                          raise_on_error=False, **kwargs)

        assert run_nightly(instance, night1, selection=PRE_BASELINE)
        assert defs.resolve_job_def("pin_baseline").execute_in_process(instance=instance).success
        out["first"] = run(night1)
        out["again"] = run(night1)
        out["ratio_fail"] = run(night3, REPLACE)
        out["publish_alone"] = run(night3, selection=["curated_mix"])
        # Two backfilled days without files: the first publishes the accumulated pool, the second changes nothing.
        day4 = (datetime.fromisoformat(night3) + timedelta(days=1)).date().isoformat()
        day5 = (datetime.fromisoformat(night3) + timedelta(days=2)).date().isoformat()
        out["empty_days"] = [run(day4), run(day5)]
        # A correction: a file of night 1 comes back without its last record, and night 1 is run again
        # up to the gates (publishing it would only add a generation; what matters is the candidate).
        from pipelines.jobs import NIGHTLY_ASSETS

        corrected = sorted((cfg.paths.inbox / night1).glob("*.jsonl"))[0]
        lines = corrected.read_text().splitlines(keepends=True)
        out["corrected"] = {"file": corrected, "rows": len(lines), "removed": json.loads(lines[-1])["id"]}
        corrected.write_text("".join(lines[:-1]))
        out["correction_run"] = run(night1, selection=[a for a in NIGHTLY_ASSETS if a != "curated_mix"])
        yield out


def test_night_one_publishes_with_every_gate_passed(history):
    result = history["first"]
    assert result.success
    assert set(_checks(result).values()) == {True}
    from anchormix.gates import REQUIRED_GATES

    assert set(_checks(result)) == set(REQUIRED_GATES)
    meta = _meta(result, "curated_mix")
    assert meta["generation"] == 1
    # The mix stage's rows in are the pool it chose from (probes withheld from it included), not the mix.
    mix = _meta(result, "mix_candidate")
    assert mix["stage_rows_out"] == meta["stage_rows_in"] > 0
    assert mix["stage_rows_in"] > mix["stage_rows_out"]
    published = history["settings"].paths.published
    assert (published / "gen-000001" / "croissant.json").exists()
    assert (published / "gen-000001" / "manifest.json").exists()
    # Signed with the demo publisher key that demo setup made, and every record carries its license.
    from anchormix.publish.verify import verify_generation

    publish = history["settings"].publish
    report = verify_generation(published / "gen-000001", publish.verify_key())
    assert report.ok and report.key_id == publish.key_id == "anchormix-demo-publisher", report.problems
    manifest = json.loads((published / "gen-000001" / "manifest.json").read_text())
    assert all(r["license"] for r in manifest["records"])
    assert {a["source"] for a in manifest["attribution"]} == {r["source"] for r in manifest["records"]}


def test_records_in_equal_the_sum_of_terminal_states(history):
    from anchormix.report import drop_summary

    with _store() as con:
        summary = drop_summary(con, history["night1"])
        loaded = con.execute("SELECT count(*) FROM raw_records WHERE drop = ?", [history["night1"]]).fetchone()[0]
    c = summary["conservation"]
    # Night 1 was corrected at the end of the history: its old file version's rows are retracted.
    assert c["records_in"] == c["terminal_total"] == loaded + c["quarantined"] + c["retracted"]
    assert c["unaccounted"] == 0
    assert c["published"] + c["selected"] > 0 and c["duplicate"] > 0 and c["quarantined"] == 8


def test_every_malformed_row_kind_is_quarantined_with_file_line_and_reason(history):
    with _store() as con:
        rows = con.execute("SELECT file, line, reason FROM quarantine ORDER BY line").fetchall()
    codes = {reason.split(":")[0] for _, _, reason in rows}
    assert codes == {"bad_json", "missing_field", "wrong_type", "bad_timestamp", "invalid_utf8", "oversized_text",
                     "duplicate_id", "not_an_object"}
    assert all(file.endswith("webcrawl-malformed.jsonl") and line >= 2 for file, line, _ in rows)


def test_rerunning_an_unchanged_inbox_adds_nothing_and_embeds_nothing(history):
    again = history["again"]
    assert again.success
    assert _meta(again, "raw_records")["loaded_this_run"] == 0
    embed = _meta(again, "embeddings")
    assert embed["cache_misses"] == 0 and embed["cache_hits"] > 0
    publish = _meta(again, "curated_mix")
    assert publish["already_published"] is True and publish["generation"] == 1


def test_a_failing_ratio_gate_stops_curated_mix_in_the_same_run(history):
    result = history["ratio_fail"]
    assert not result.success
    checks = _checks(result)
    assert checks["gx_provenance"] is False
    assert result.asset_materializations_for_node("curated_mix") == []
    assert not [p for p in (history["settings"].paths.published).iterdir() if p.name.startswith(".tmp")]


def test_a_later_run_of_curated_mix_alone_refuses_the_failed_candidate(history):
    result = history["publish_alone"]
    assert not result.success
    failure = result.failure_data_for_node("curated_mix")
    assert "Refusing to publish" in failure.user_failure_data.description
    assert "gx_provenance" in failure.user_failure_data.description
    with _store() as con:
        generations = con.execute("SELECT generation, drop FROM publications ORDER BY generation").fetchall()
    assert history["night3"] not in [drop for _, drop in generations]


def test_a_published_record_traces_back_to_its_raw_file_and_line(history):
    from anchormix.lineage import explain

    with _store() as con:
        # A human-labelled one: the mix also admits synthetic and unknown records within their caps.
        record_id = con.execute(
            "SELECT pr.id FROM published_records pr JOIN provenance p USING (id) "
            "WHERE p.class IN ('human_verified', 'human_presumed') ORDER BY pr.id LIMIT 1").fetchone()[0]
        why = explain(record_id, con)
    assert why.publications[0] == 1
    assert why.raw["file"].startswith(str(history["settings"].paths.inbox)) and why.raw["line"] >= 1
    assert why.provenance_class in {"human_verified", "human_presumed"}
    assert any(e["signal"] == "registry" for e in why.evidence)
    assert f"{why.raw['file']}:{why.raw['line']}" in why.summary()


def test_a_backfilled_day_without_new_records_keeps_the_current_generation(history):
    first, second = history["empty_days"]
    assert first.success and second.success
    assert _meta(first, "curated_mix")["generation"] == 2
    again = _meta(second, "curated_mix")
    assert again["generation"] == 2 and again["unchanged_since_previous"] is True
    published = history["settings"].paths.published
    assert (published / "LATEST").read_text().strip() == "gen-000002"


def test_the_diversity_check_emits_numeric_metadata_the_ui_plots(history):
    from dagster import FloatMetadataValue

    [evaluation] = [e for e in history["first"].get_asset_check_evaluations() if e.check_name == "diversity_gates"]
    meta = evaluation.metadata
    for key in ("vendi", "vendi_p", "vendi_null_median", "vendi_band_lo", "vendi_band_hi", "knn_coverage_p",
                "js_baseline_p", "tail_min_p"):
        assert isinstance(meta[key], FloatMetadataValue), (key, meta.get(key))
    assert 0.0 <= meta["vendi_p"].value <= 1.0
    assert "healthy median" in meta["gates"].value


def test_a_corrected_file_retracts_its_old_version_and_the_next_candidate_reflects_it(history):
    from anchormix.report import drop_summary

    fix = history["corrected"]
    assert history["correction_run"].success
    with _store() as con:
        retracted = con.execute("SELECT id, superseded_by FROM retracted_records WHERE file = ?",
                                [str(fix["file"])]).fetchall()
        live = {r[0] for r in con.execute("SELECT id FROM raw_records WHERE file = ?", [str(fix["file"])]).fetchall()}
        summary = drop_summary(con, history["night1"])
        candidate = {r[0] for r in con.execute(
            "SELECT id FROM candidate_records WHERE fingerprint = ?", [summary["candidate"]]).fetchall()}
        gen1 = {r[0] for r in con.execute("SELECT id FROM published_records WHERE generation = 1").fetchall()}
    # Every row of the old version is retracted, naming the version that superseded it; the correction
    # reuses the other ids.
    assert len(retracted) == fix["rows"] and all(str(fix["file"]) in by for _, by in retracted)
    assert fix["removed"] not in live and len(live) > 0
    assert fix["removed"] not in candidate
    # The published generation is untouched.
    manifest = json.loads((history["settings"].paths.published / "gen-000001" / "manifest.json").read_text())
    assert fix["removed"] in {r["id"] for r in manifest["records"]} or fix["removed"] not in gen1
    c = summary["conservation"]
    assert c["retracted"] == fix["rows"] and c["records_in"] == c["terminal_total"] and c["unaccounted"] == 0
