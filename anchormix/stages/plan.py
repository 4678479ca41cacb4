"""The nightly stages, declared once, in order: the runner, the Dagster job and the benches read this list.

Each stage names the store tables it reads and writes and is one of two kinds:

* ``per_record``: a transform of each record of the drop on its own (normalize,
  quality, MinHash signatures inside dedup, embedding, detector scoring);
  its cost follows the drop;
* ``global``: a step over the store (dedup joins, provenance labels,
  clustering, diversity, mix, gates, publish), written so its work follows the
  drop too (joins against indexes, not scans of history).

The engine (``StageContext.engine``) runs a stage's ``transform`` (the whole
stage is one pure batch transform: normalize, quality) and its ``engine_parts``
(the per-record part of a stage whose rest runs on the driver: MinHash
signatures of dedup, the cache misses of embeddings, the detector's verdicts
in provenance).

``run(ctx)`` returns the stage's summary dict; ``rows(summary)`` gives its rows
in and out for :class:`anchormix.stages.stats.StageStats`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb

from anchormix.stages.stats import StageStats, measured
from anchormix.threads import configure_threads


@dataclass
class StageContext:
    """What a stage runs with: the store, the drop, the settings (with this run's overrides applied) and the
    engine per-record transforms run on (None: in this process; :mod:`anchormix.engine`)."""

    con: duckdb.DuckDBPyConnection
    drop: str
    settings: Any
    results: dict = field(default_factory=dict)
    engine: Any = None


@dataclass(frozen=True)
class Stage:
    """One nightly stage: its Dagster asset key, kind, tables, and how to run and count it."""

    name: str
    kind: Literal["per_record", "global"]
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    run: Callable[[StageContext], Any]
    rows: Callable[[Any], tuple[int, int]]
    description: str = ""
    # "module:NAME" of the stage's RecordTransform, for per-record stages that are one pure batch transform
    # (an engine other than the local loop runs that); imported on demand so the plan stays light.
    transform: str = ""
    # "module:NAME" of the RecordTransforms the engine runs inside a stage whose other steps run on the driver
    # (dedup signs on the engine and joins band keys in DuckDB).
    engine_parts: tuple[str, ...] = ()

    def record_transform(self):
        """The stage's :class:`~anchormix.stages.record_batches.RecordTransform`, or None."""
        return _imported(self.transform) if self.transform else None

    def engine_transforms(self) -> list:
        """Every :class:`~anchormix.stages.record_batches.RecordTransform` the engine runs for this stage."""
        return [_imported(t) for t in ((self.transform,) if self.transform else ()) + self.engine_parts]


def _imported(path: str):
    import importlib

    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _ingest(ctx: StageContext):
    from anchormix.stages.ingest import ingest_drop

    return ingest_drop(ctx.con, ctx.settings.paths.inbox, ctx.drop, ctx.settings.ingest)


def _normalize(ctx: StageContext):
    from anchormix.stages.normalize import normalize_drop

    return normalize_drop(ctx.con, ctx.drop, ctx.engine)


def _dedup(ctx: StageContext):
    from anchormix.stages.dedup import dedup_drop

    return dedup_drop(ctx.con, ctx.drop, ctx.settings.dedup, ctx.engine)


def _provenance(ctx: StageContext):
    from anchormix.stages.provenance import provenance_drop

    s = ctx.settings
    return provenance_drop(ctx.con, ctx.drop, s.paths.registry, s.detector, s.paths.models, embedding=s.embedding,
                           engine=ctx.engine)


def _quality(ctx: StageContext):
    from anchormix.stages.quality import quality_drop

    return quality_drop(ctx.con, ctx.drop, ctx.settings.quality, ctx.engine)


def _embed(ctx: StageContext):
    from anchormix.stages.embed import embed_drop

    return embed_drop(ctx.con, ctx.drop, ctx.settings.embedding, ctx.engine)


def _semantic(ctx: StageContext):
    from anchormix.stages.semantic import semantic_drop

    return semantic_drop(ctx.con, ctx.drop, ctx.settings.dedup, ctx.settings.embedding)


def _diversity(ctx: StageContext):
    from anchormix.stages.diversity import diversity_drop

    s = ctx.settings
    return diversity_drop(ctx.con, ctx.drop, s.paths.baseline, s.embedding, s.diversity.tail)


def _mix(ctx: StageContext):
    from anchormix.stages.mix import build_candidate

    s = ctx.settings
    return build_candidate(ctx.con, ctx.drop, s.mix, s.gates, s.detector.auroc_floor,
                           s.paths.baseline, s.embedding, s.diversity.tail, value=s.value, publish=s.publish)


def _gates(ctx: StageContext):
    from anchormix.gate_checks import evaluate_all
    from anchormix.stages.mix import latest_candidate

    candidate = latest_candidate(ctx.con, ctx.drop)
    return {g.gate: g for g in evaluate_all(ctx.con, candidate, ctx.settings.ingest.max_text_bytes)}


def _publish(ctx: StageContext):
    """Raises PublishRefused when the candidate's gates failed, never ran, or it is stale."""
    from anchormix.stages.publish import publish_drop

    s = ctx.settings
    return publish_drop(ctx.con, ctx.drop, s.paths.published, group_readable=s.publish.group_readable,
                        registry=_registry_or_none(s.paths.registry), signer=s.publish.signer())


def _registry_or_none(path):
    """The registry, for attribution; a store curated without one still publishes (credits left empty)."""
    from anchormix.provenance.registry import load_registry

    return load_registry(path) if path.exists() else None


def _n(summary: Any, *keys: str) -> int:
    for key in keys:
        value = summary.get(key) if isinstance(summary, dict) else getattr(summary, key, None)
        if isinstance(value, (int, float)):
            return int(value)
    return 0


NIGHTLY: tuple[Stage, ...] = (
    Stage("raw_records", "per_record", ("inbox",), ("raw_records", "quarantine", "ingested_files",
                                                    "retracted_records"), _ingest,
          lambda s: (s.loaded + s.quarantined, s.loaded), "read the drop's files; quarantine bad rows"),
    Stage("normalized", "per_record", ("raw_records",), ("normalized",), _normalize,
          lambda n: (n, n), "Unicode and whitespace normalization, content hash", "anchormix.stages.normalize:NORMALIZE"),
    Stage("deduplicated", "global", ("normalized", "minhash_signatures", "minhash_bands"),
          ("dedup", "minhash_signatures", "minhash_bands"), _dedup,
          lambda s: (_n(s, "records"), _n(s, "unique")), "exact (hash join) and MinHash LSH (band-key join)",
          engine_parts=("anchormix.stages.dedup:SIGNATURES",)),
    Stage("embeddings", "per_record", ("normalized", "dedup", "embedding_cache"), ("embedding_cache",), _embed,
          lambda s: (_n(s, "records"), _n(s, "records")), "sentence vectors, cached by content hash; the detector reads them",
          engine_parts=("anchormix.stages.embed:EMBED",)),
    Stage("provenance", "global", ("raw_records", "normalized", "dedup", "embedding_cache"),
          ("evidence", "provenance", "detector_scores", "detector_runs", "label_runs", "record_licenses"), _provenance,
          lambda s: (_n(s, "records", "labelled"), _n(s, "records", "labelled")),
          "signatures, registry and detector evidence; a class per record",
          engine_parts=("anchormix.stages.detector_scores:DETECTOR_SCORES",)),
    Stage("quality", "per_record", ("normalized", "dedup", "raw_records"), ("quality",), _quality,
          lambda s: (_n(s, "scored"), _n(s, "passed")), "heuristic quality rules", "anchormix.stages.quality:QUALITY"),
    Stage("semantic_dedup", "global", ("dedup", "embedding_cache", "semantic index"), ("dedup", "semantic index"),
          _semantic, lambda s: (_n(s, "new"), _n(s, "new") - _n(s, "duplicates")),
          "cosine >= tau against the persisted index of accepted vectors"),
    Stage("diversity", "global", ("dedup", "quality", "provenance", "embedding_cache"), ("clusters",), _diversity,
          lambda s: (_n(s, "assigned"), _n(s, "assigned")), "baseline clusters for new pool records"),
    Stage("mix_candidate", "global", ("clusters", "provenance", "record_licenses", "quality", "published_records",
                                      "candidate_probes", "publications"),
          ("candidates", "candidate_records", "candidate_probes", "record_states", "metrics_history"), _mix,
          lambda s: (_n(s, "pool_size", "n_records"), _n(s, "n_records")), "ratio-constrained mix and its verdict"),
    Stage("gates", "global", ("candidates", "candidate_records"), ("gate_results",), _gates,
          lambda s: (len(s), sum(1 for g in s.values() if getattr(g, "passed", False))), "blocking gates"),
    Stage("curated_mix", "global", ("candidates", "gate_results"), ("publications", "published_records"),
          _publish, lambda s: (_n(s, "n_records"), _n(s, "n_records")), "publish the gated candidate"),
)

NIGHTLY_ASSETS: tuple[str, ...] = tuple(s.name for s in NIGHTLY if s.name != "gates")
_BY_NAME = {s.name: s for s in NIGHTLY}


def stage(name: str) -> Stage:
    """The stage called ``name`` (its Dagster asset key)."""
    return _BY_NAME[name]


def upstream(name: str) -> list[str]:
    """The asset key of the stage before ``name`` in the nightly order (empty for the first)."""
    names = list(NIGHTLY_ASSETS)
    i = names.index(name)
    return names[i - 1 : i]


def run_stage(st: Stage, ctx: StageContext, logger=None) -> tuple[Any, StageStats]:
    """Run one stage on ``ctx`` and measure it; the summary is also kept in ``ctx.results``."""
    configure_threads()  # a stage may have loaded FAISS or torch, each with its own thread pools
    with measured(st.name, logger) as stats:
        summary = st.run(ctx)
        stats.rows_in, stats.rows_out = st.rows(summary)
    ctx.results[st.name] = summary
    return summary, stats
