"""The declared stage order and the uniform stage statistics."""

from __future__ import annotations

import logging

import numpy as np

from anchormix.stages.plan import NIGHTLY, NIGHTLY_ASSETS, Stage, StageContext, run_stage, stage, upstream
from anchormix.stages.stats import Progress, current_rss_bytes


def test_order_is_declared_once_from_raw_records_to_curated_mix():
    names = [s.name for s in NIGHTLY]
    assert len(set(names)) == len(names)
    assert names[0] == "raw_records" and names[-1] == "curated_mix"
    assert names.index("deduplicated") < names.index("embeddings") < names.index("semantic_dedup")
    assert names.index("mix_candidate") < names.index("gates") < names.index("curated_mix")
    assert upstream("raw_records") == [] and upstream("quality") == ["provenance"]
    assert upstream("curated_mix") == ["mix_candidate"]  # gates are checks on the candidate, not an asset
    assert "gates" not in NIGHTLY_ASSETS and all(s.kind in ("per_record", "global") for s in NIGHTLY)
    assert stage("normalized").writes == ("normalized",)


def test_run_stage_measures_rows_cpu_and_peak_memory(caplog):
    def work(ctx):
        block = np.ones(40_000_000, dtype=np.float64)  # 320 MB, freed before the stage ends
        total = float(block.sum())
        del block
        return {"in": 7, "out": 5, "total": total}

    st = Stage("busy", "per_record", ("a",), ("b",), work, lambda s: (s["in"], s["out"]))
    ctx = StageContext(con=None, drop="2026-01-01", settings=None)
    before = current_rss_bytes() / 2**20
    with caplog.at_level(logging.INFO, logger="anchormix.stages"):
        summary, stats = run_stage(st, ctx)
    assert summary["total"] == 40_000_000 and ctx.results["busy"] is summary
    assert (stats.rows_in, stats.rows_out) == (7, 5)
    assert stats.cpu_s > 0 and stats.wall_s > 0
    assert stats.peak_rss_mb > before + 200  # the stage's own peak, although memory fell back after it
    assert set(stats.as_metadata()) == {"stage_rows_in", "stage_rows_out", "stage_cpu_s", "stage_wall_s",
                                        "stage_peak_rss_mb"}
    assert any("stage busy: 7 in, 5 out" in r.getMessage() for r in caplog.records)


def test_progress_lines_are_rate_limited(caplog):
    progress = Progress("embed", total=100, every_s=0.0)
    with caplog.at_level(logging.INFO, logger="anchormix.stages"):
        progress.update(50)
        progress.update(100)  # the end is the stage's own summary line, not a progress line
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "50/100 (50%)" in lines[0]


def test_pure_per_record_stages_name_their_batch_transform():
    from anchormix.stages.record_batches import RecordTransform

    with_transform = {s.name: s.record_transform() for s in NIGHTLY if s.transform}
    assert set(with_transform) == {"normalized", "quality"}
    for name, transform in with_transform.items():
        assert isinstance(transform, RecordTransform) and stage(name).kind == "per_record"
        assert transform.table in stage(name).writes
    assert stage("provenance").record_transform() is None


def test_global_stages_name_the_per_record_parts_the_engine_runs():
    from anchormix.stages.record_batches import RecordTransform

    parts = {s.name: s.engine_transforms() for s in NIGHTLY if s.engine_parts}
    assert {name: [t.name for t in ts] for name, ts in parts.items()} == {
        "deduplicated": ["minhash_signatures"], "embeddings": ["embeddings"], "provenance": ["detector_scores"]}
    for transforms in parts.values():
        # Rows go back to the driver, which stores what the stage's global step keeps.
        assert all(isinstance(t, RecordTransform) and t.table is None for t in transforms)
    assert stage("embeddings").engine_transforms()[0].load is not None  # one model load per worker
    assert [t.name for t in stage("quality").engine_transforms()] == ["quality"]
