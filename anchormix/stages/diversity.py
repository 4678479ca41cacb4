"""Diversity against the pinned human baseline: pin it, and place every eligible
record in one of its frozen clusters so the sampler can fill rare clusters."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np

from anchormix.embed import EmbeddingSettings, embed_texts, model_id
from anchormix.stages.embed import vectors_for
from anchormix.store_writes import insert_rows, transaction

HUMAN_CLASSES = ("human_verified", "human_presumed")

POOL_SQL = """
    SELECT n.id, n.drop, n.norm_text, n.content_hash, r.source, p.class AS provenance_class,
           q.score AS quality_score
    FROM normalized n JOIN raw_records r USING (id) JOIN dedup d USING (id)
    JOIN quality q USING (id) JOIN provenance p USING (id)
    WHERE n.drop <= ? AND d.status = 'unique' AND q.passed
    ORDER BY r.seq
"""


# Pool records (the pool's ids, drops and content hashes only) for cluster assignment.
POOL_IDS_SQL = """
    SELECT n.id, n.drop, n.content_hash
    FROM normalized n JOIN raw_records r USING (id) JOIN dedup d USING (id)
    JOIN quality q USING (id) JOIN provenance p USING (id)
    WHERE n.drop <= ? AND d.status = 'unique' AND q.passed
    ORDER BY r.seq
"""
# Pool-level diversity is a report, not a gate: a sample this size measures it to within sampling noise.
REPORT_SAMPLE = 5_000


class BaselineMissing(RuntimeError):
    """No baseline is pinned for the configured embedding model."""


def pool_frame(con: duckdb.DuckDBPyConnection, drop: str, with_text: bool = True):
    """Records eligible for a mix through ``drop``: unique, quality-passed, labelled.

    ``with_text=False`` leaves out ``norm_text``: the sampler needs only labels
    and clusters, and the pool's texts are most of its bytes.
    """
    sql = POOL_SQL if with_text else POOL_SQL.replace("n.norm_text, ", "")
    return con.execute(sql, [drop]).df()


def load_pinned(baseline_dir: Path, embedding: EmbeddingSettings):
    """The pinned baseline for this model, or :class:`BaselineMissing` saying how to pin one."""
    from anchormix.baseline import load_baseline

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
    from anchormix.baseline import pin_baseline

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
                   tail_rule=None, report_sample: int = REPORT_SAMPLE, seed: int = 0) -> dict:
    """Assign baseline clusters to pool records that have none yet; report pool-level diversity.

    Records keep the cluster they were given under this baseline, so a night
    assigns only its own records (and all of them again after a re-pin). The
    report measures a seeded sample of at most ``report_sample`` pool records.
    """
    from anchormix.baseline import assign_clusters
    from anchormix.diversity import diversity_report

    baseline = load_pinned(baseline_dir, embedding)
    # Cluster rows name the baseline they were assigned under: a re-pin (new digest) re-assigns all.
    baseline_id = f"{baseline.model_id}#{baseline.digest[:16]}"
    # The pool is read once into a temp table; the anti-join, count and sample run on it in DuckDB, so no
    # Python set of every pool id is built each night.
    con.execute(f"CREATE OR REPLACE TEMP TABLE _pool_ids AS {POOL_IDS_SQL}", [drop])
    try:
        todo = con.execute("SELECT * FROM _pool_ids p WHERE NOT EXISTS (SELECT 1 FROM clusters c WHERE c.id = p.id "
                           "AND c.baseline_id = ?)", [baseline_id]).df()
        if len(todo):
            labels = assign_clusters(baseline, vectors_for(con, todo, embedding))
            with transaction(con):
                con.execute("DELETE FROM clusters WHERE id IN (SELECT unnest(?))", [todo["id"].tolist()])
                insert_rows(con, "clusters", {"id": todo["id"].tolist(), "drop": todo["drop"].tolist(),
                                              "cluster": labels.astype(np.int32),
                                              "baseline_id": [baseline_id] * len(todo)})
        n_pool = con.execute("SELECT count(*) FROM _pool_ids").fetchone()[0]
        # A seeded hash order is a uniform sample that a later night reproduces for the same pool.
        sample = con.execute("SELECT * FROM _pool_ids p ORDER BY hash(p.id || ?::VARCHAR) LIMIT ?",
                             [seed, report_sample]).df()
    finally:
        con.execute("DROP TABLE IF EXISTS _pool_ids")
    report = {}
    if len(sample) > 1:
        texts = dict(con.execute("SELECT id, norm_text FROM normalized WHERE id IN (SELECT unnest(?))",
                                 [sample["id"].tolist()]).fetchall())
        report = diversity_report(vectors_for(con, sample, embedding), [texts[i] for i in sample["id"]], baseline,
                                  rule=tail_rule)
        report["measured_on"] = len(sample)
    return {"pool": int(n_pool), "assigned": len(todo), "report": report, "baseline_n": int(baseline.n),
            "model_id": baseline.model_id}
