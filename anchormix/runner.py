"""Run one drop through every stage and gate without Dagster.

The Dagster job is the way to operate anchormix; this runner exists so the same
stages and gates run in tests, benchmarks and notebooks, in one process. Both
take the stage order from :data:`anchormix.stages.plan.NIGHTLY`.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import duckdb

from anchormix.config import Settings
from anchormix.engine import open_engine
from anchormix.errors import PublishRefused
from anchormix.stages.diversity import pin_from_store
from anchormix.stages.plan import NIGHTLY, StageContext, run_stage

# The summary keys callers of run_drop / curate_drop have always read.
SUMMARY_KEYS = {"raw_records": "ingest", "normalized": "normalize", "deduplicated": "dedup",
                "provenance": "provenance", "quality": "quality", "embeddings": "embed",
                "semantic_dedup": "semantic", "diversity": "diversity", "mix_candidate": "candidate",
                "gates": "gates", "curated_mix": "published"}
_CURATION = tuple(s.name for s in NIGHTLY[: [s.name for s in NIGHTLY].index("semantic_dedup") + 1])


def _run(ctx: StageContext, names, out: dict, logger: logging.Logger | None) -> dict:
    # The [engine] the settings name, for this run only: a local Ray it starts stops with the run.
    with open_engine(ctx.settings.engine, ctx.settings.paths.data_root) as engine:
        ctx = replace(ctx, engine=ctx.engine or engine)
        for st in NIGHTLY:
            if st.name in names:
                try:
                    summary, stats = run_stage(st, ctx, logger)
                except PublishRefused as exc:
                    out["refused"] = str(exc)
                    continue
                out[SUMMARY_KEYS[st.name]] = summary
                out.setdefault("stats", []).append(stats)
    return out


def with_overrides(settings: Settings, policy=None, gates=None) -> Settings:
    """``settings`` with this run's mix policy and gate settings (already validated objects)."""
    update = {k: v for k, v in (("mix", policy), ("gates", gates)) if v is not None}
    return settings.model_copy(update=update) if update else settings


def curate_drop(con: duckdb.DuckDBPyConnection, drop: str, settings: Settings,
                logger: logging.Logger | None = None) -> dict:
    """Ingest through semantic dedup for one drop; returns each stage's summary (and ``stats``)."""
    return _run(StageContext(con, drop, settings), _CURATION, {}, logger)


def pin_baseline(con: duckdb.DuckDBPyConnection, drop: str, settings: Settings, overwrite: bool = False):
    """Pin the human baseline from accepted human records through ``drop``."""
    d = settings.diversity
    return pin_from_store(con, drop, settings.paths.baseline, settings.embedding, d.baseline_clusters,
                          d.baseline_seed, d.min_baseline_records, overwrite=overwrite,
                          typical_n=settings.mix.target_size)


def run_drop(con: duckdb.DuckDBPyConnection, drop: str, settings: Settings, *, policy=None, gates=None,
             publish: bool = True, logger: logging.Logger | None = None) -> dict:
    """Curate, sample, gate and (if every gate passed) publish one drop.

    Returns each stage's summary under its usual key, ``stats`` (one
    :class:`~anchormix.stages.stats.StageStats` per stage), ``published`` (the
    publication, or None) and ``refused`` (why publish refused, or None).
    """
    ctx = StageContext(con, drop, with_overrides(settings, policy, gates))
    later = [s.name for s in NIGHTLY if s.name not in _CURATION and (publish or s.name != "curated_mix")]
    out = _run(ctx, list(_CURATION) + later, {"published": None, "refused": None}, logger)
    return out
