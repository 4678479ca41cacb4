"""Diversity against the pinned human baseline: pin it, and place every eligible
record in one of its frozen clusters so the sampler can fill rare clusters."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np

from anchormix.embed import EmbeddingSettings, embed_texts, model_id
from anchormix.stages.embed import vectors_for

HUMAN_CLASSES = ("human_verified", "human_presumed")

POOL_SQL = """
    SELECT n.id, n.drop, n.norm_text, n.content_hash, r.source, p.class AS provenance_class,
           q.score AS quality_score
    FROM normalized n JOIN raw_records r USING (id) JOIN dedup d USING (id)
    JOIN quality q USING (id) JOIN provenance p USING (id)
    WHERE n.drop <= ? AND d.status = 'unique' AND q.passed
    ORDER BY r.seq
"""


class BaselineMissing(RuntimeError):
    """No baseline is pinned for the configured embedding model."""


def pool_frame(con: duckdb.DuckDBPyConnection, drop: str):
    """Records eligible for a mix through ``drop``: unique, quality-passed, labelled."""
    return con.execute(POOL_SQL, [drop]).df()


def load_pinned(baseline_dir: Path, embedding: EmbeddingSettings):
    """The pinned baseline for this model, or :class:`BaselineMissing` saying how to pin one."""
    from anchormix.diversity import load_baseline

    if not baseline_dir.exists() or not any(baseline_dir.iterdir()):
        raise BaselineMissing(
            f"no diversity baseline is pinned in {baseline_dir}. Pin one from the accepted human records: "
            "materialize `diversity_baseline` (job `pin_baseline`) or run `anchormix pin-baseline`."
        )
    return load_baseline(baseline_dir, expected_model_id=model_id(embedding))


def pin_from_store(con: duckdb.DuckDBPyConnection, drop: str, baseline_dir: Path, embedding: EmbeddingSettings,
                   clusters: int, seed: int, min_records: int, overwrite: bool = False, typical_n: int | None = None):
    """Pin the baseline from accepted human records through ``drop``, its clusters named by their texts.

    ``typical_n`` (the mix's target size) sizes the baseline-adequacy warnings.
    """
    from anchormix.diversity import pin_baseline

    pool = pool_frame(con, drop)
    human = pool[pool["provenance_class"].isin(HUMAN_CLASSES)].reset_index(drop=True)
    if len(human) < min_records:
        raise BaselineMissing(
            f"only {len(human)} accepted human records through {drop}; the baseline needs "
            f"diversity.min_baseline_records = {min_records}. Ingest and label human data first."
        )
    result = embed_texts(con, human["content_hash"].tolist(), human["norm_text"].tolist(), embedding)
    k = min(clusters, max(2, len(human) // 5))
    baseline = pin_baseline(result.vectors, model_id(embedding), k, seed, baseline_dir, overwrite=overwrite,
                            texts=human["norm_text"].tolist(), ids=human["id"].tolist(), typical_n=typical_n)
    return baseline, len(human)


def diversity_drop(con: duckdb.DuckDBPyConnection, drop: str, baseline_dir: Path, embedding: EmbeddingSettings,
                   tail_rule=None) -> dict:
    """Assign baseline clusters to the eligible pool; report pool-level diversity."""
    from anchormix.diversity import assign_clusters, diversity_report

    baseline = load_pinned(baseline_dir, embedding)
    pool = pool_frame(con, drop)
    vectors = vectors_for(con, pool, embedding)
    labels = assign_clusters(baseline, vectors) if len(pool) else np.zeros(0, dtype=int)
    rows = [(i, d, int(c), baseline.model_id) for i, d, c in zip(pool["id"], pool["drop"], labels)]
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM clusters WHERE drop <= ?", [drop])
    if rows:
        con.executemany("INSERT INTO clusters VALUES (?, ?, ?, ?)", rows)
    con.execute("COMMIT")
    report = diversity_report(vectors, pool["norm_text"].tolist(), baseline, rule=tail_rule) if len(pool) > 1 else {}
    return {"pool": len(pool), "report": report, "baseline_n": int(baseline.n), "model_id": baseline.model_id}
