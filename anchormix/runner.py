"""Run one drop through every stage and gate without Dagster.

The Dagster job is the way to operate anchormix; this runner exists so the same
stages and gates run in tests, benchmarks and notebooks, in one process.
"""

from __future__ import annotations

import duckdb

from anchormix.config import Settings
from anchormix.errors import PublishRefused
from anchormix.gate_checks import evaluate_all
from anchormix.settings_base import revalidated
from anchormix.stages.dedup import dedup_drop
from anchormix.stages.diversity import diversity_drop, pin_from_store
from anchormix.stages.embed import embed_drop
from anchormix.stages.ingest import ingest_drop
from anchormix.stages.mix import build_candidate, latest_candidate
from anchormix.stages.normalize import normalize_drop
from anchormix.stages.provenance import provenance_drop
from anchormix.stages.publish import publish_drop
from anchormix.stages.quality import quality_drop
from anchormix.stages.semantic import semantic_drop


def curate_drop(con: duckdb.DuckDBPyConnection, drop: str, settings: Settings) -> dict:
    """Ingest through semantic dedup for one drop; returns each stage's summary."""
    out = {"ingest": ingest_drop(con, settings.paths.inbox, drop, settings.ingest)}
    out["normalize"] = normalize_drop(con, drop)
    out["dedup"] = dedup_drop(con, drop, settings.dedup)
    out["provenance"] = provenance_drop(con, drop, settings.paths.registry, settings.detector, settings.paths.models)
    out["quality"] = quality_drop(con, drop, settings.quality)
    out["embed"] = embed_drop(con, drop, settings.embedding)
    out["semantic"] = semantic_drop(con, drop, settings.dedup, settings.embedding)
    return out


def pin_baseline(con: duckdb.DuckDBPyConnection, drop: str, settings: Settings, overwrite: bool = False):
    """Pin the human baseline from accepted human records through ``drop``."""
    d = settings.diversity
    return pin_from_store(con, drop, settings.paths.baseline, settings.embedding, d.baseline_clusters,
                          d.baseline_seed, d.min_baseline_records, overwrite=overwrite,
                          typical_n=settings.mix.target_size)


def run_drop(con: duckdb.DuckDBPyConnection, drop: str, settings: Settings, *, policy=None, gates=None,
             publish: bool = True) -> dict:
    """Curate, sample, gate and (if every gate passed) publish one drop."""
    out = curate_drop(con, drop, settings)
    out["diversity"] = diversity_drop(con, drop, settings.paths.baseline, settings.embedding, settings.diversity.tail)
    policy = policy or settings.mix
    gates = gates or settings.gates
    out["candidate"] = build_candidate(con, drop, policy, gates, settings.detector.auroc_floor,
                                       settings.paths.baseline, settings.embedding, settings.diversity.tail)
    candidate = latest_candidate(con, drop)
    out["gates"] = {g.gate: g for g in evaluate_all(con, candidate, settings.ingest.max_text_bytes)}
    out["published"] = None
    out["refused"] = None
    if publish:
        try:
            out["published"] = publish_drop(con, drop, settings.paths.published,
                                             group_readable=settings.publish.group_readable)
        except PublishRefused as exc:
            out["refused"] = str(exc)
    return out


def with_mix(settings: Settings, **changes) -> Settings:
    """A copy of ``settings`` with mix-policy fields changed (validated again)."""
    return settings.model_copy(update={"mix": revalidated(settings.mix, changes, "mix")})
