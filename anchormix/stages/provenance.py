"""Label every unique record through this drop with evidence and a class.

Labelling covers history, because a record's class can change when the
registry or the detector does. The detector work is incremental:

* the model is retrained only when the confident set has grown by
  ``[detector] retrain_growth`` since the model in use was trained, when a
  record it was trained on changed or left the confident set, or when it is
  ``retrain_every_days`` old; otherwise the last model (``detector_runs``) is kept;
* verdicts are stored in ``detector_scores`` keyed by (content hash, model
  version): a record is assessed again only when its text or the model changed;
* sentence vectors come from the embedding cache (``embed_texts``), so the
  embeddings stage later finds them there.

Each run writes a ``detector_runs`` row (the headline figures) and a
``detector_reports`` row (the full report: per-source leave-one-source-out
figures, flag rates, threshold rule, timings) that the ``detector_health`` gate reads.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import pandas as pd

from anchormix.provenance.detector import Assessment, DetectorSettings
from anchormix.provenance.labeler import label_records
from anchormix.provenance.registry import load_registry

DETECTOR_SCHEMA = """
CREATE TABLE IF NOT EXISTS detector_scores (
    content_hash VARCHAR, version VARCHAR, score DOUBLE, verdict VARCHAR, reason VARCHAR,
    created_at TIMESTAMP DEFAULT now(), PRIMARY KEY (content_hash, version));
CREATE TABLE IF NOT EXISTS detector_reports (
    drop VARCHAR, version VARCHAR, report VARCHAR, created_at TIMESTAMP DEFAULT now());
"""


class StoreScoreCache:
    """Detector verdicts in the ``detector_scores`` table, keyed by (content hash, model version)."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self.pending: list[tuple[tuple[str, str], Assessment]] = []

    def get(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Assessment]:
        if not keys:
            return {}
        wanted = pd.DataFrame(keys, columns=["content_hash", "version"])
        self.con.register("_wanted_scores", wanted)
        try:
            rows = self.con.execute(
                "SELECT s.content_hash, s.version, s.score, s.verdict, s.reason FROM detector_scores s "
                "JOIN _wanted_scores w USING (content_hash, version)").fetchall()
        finally:
            self.con.unregister("_wanted_scores")
        return {(h, v): Assessment(None if score is None else float(score), verdict, reason)
                for h, v, score, verdict, reason in rows}

    def put(self, items: list[tuple[tuple[str, str], Assessment]]) -> None:
        self.pending.extend(items)  # written with the labels, in one transaction

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([(h, v, a.score, a.verdict, a.reason) for (h, v), a in self.pending],
                            columns=["content_hash", "version", "score", "verdict", "reason"])


def init_detector_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the detector's own tables (idempotent)."""
    con.execute(DETECTOR_SCHEMA)


def previous_model(con: duckdb.DuckDBPyConnection, drop: str) -> str | None:
    """The version of the last model trained or kept by a run of a drop <= ``drop``."""
    rows = con.execute(
        "SELECT version FROM detector_runs WHERE trained AND version IS NOT NULL AND drop <= ? "
        "ORDER BY created_at DESC LIMIT 1", [drop]).fetchall()
    return rows[0][0] if rows else None


def provenance_drop(con: duckdb.DuckDBPyConnection, drop: str, registry_path: Path,
                    settings: DetectorSettings, model_dir: Path, embedding=None) -> dict:
    """(Re)label records of drops <= ``drop``; returns class counts, the detector report and timings.

    ``embedding``: the ``[embedding]`` settings whose cached vectors feed the
    detector's embedding block (default: the project configuration's).
    """
    from anchormix.embed import embed_texts

    if embedding is None:
        from anchormix.config import load_settings

        embedding = load_settings().embedding
    started = time.perf_counter()
    init_detector_tables(con)
    registry = load_registry(registry_path)
    records = con.execute(
        """
        SELECT n.id, r.source, n.norm_text, n.content_hash, r.fetched_at, r.manifest, r.media_path, n.drop
        FROM normalized n JOIN raw_records r USING (id) JOIN dedup d USING (id)
        WHERE n.drop <= ? AND (d.status = 'unique' OR d.method = 'semantic') ORDER BY r.seq
        """,
        [drop],
    ).df()
    read_s = time.perf_counter() - started
    cache = StoreScoreCache(con)

    def embed(hashes, texts):
        return embed_texts(con, list(hashes), list(texts), embedding).vectors

    result = label_records(records, registry, settings, model_dir, embed=embed, score_cache=cache,
                           previous_version=previous_model(con, drop), today=drop, embedding_settings=embedding)
    started = time.perf_counter()
    drop_of = dict(zip(records["id"], records["drop"]))
    evidence = result.evidence.assign(drop=result.evidence["record_id"].map(drop_of))
    classes = result.classes.assign(drop=result.classes["id"].map(drop_of))
    con.register("_labelled_ids", records[["id"]])
    con.register("_new_evidence", evidence[["record_id", "drop", "signal", "value", "verdict", "ref"]])
    con.register("_new_classes", classes[["id", "drop", "class", "reason"]])
    con.register("_new_scores", cache.frame())
    det = result.detector
    health = det.get("health") or {}
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM evidence WHERE id IN (SELECT id FROM _labelled_ids)")
        con.execute("DELETE FROM provenance WHERE id IN (SELECT id FROM _labelled_ids)")
        con.execute("INSERT INTO evidence SELECT * FROM _new_evidence")
        con.execute("INSERT INTO provenance SELECT * FROM _new_classes")
        con.execute("INSERT OR IGNORE INTO detector_scores (content_hash, version, score, verdict, reason) "
                    "SELECT * FROM _new_scores")
        con.execute(
            "INSERT INTO detector_runs (drop, version, trained, reason, heldout_auroc, threshold, precision, recall, "
            "n_train, n_test) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [drop, det.get("version"), bool(det.get("trained")), det.get("reason"),
             health.get("auroc", det.get("heldout_auroc")), det.get("threshold"), det.get("precision"),
             det.get("recall"), det.get("n_train"), det.get("n_test")],
        )
        con.execute("INSERT INTO detector_reports (drop, version, report) VALUES (?, ?, ?)",
                    [drop, det.get("version"), json.dumps(det, default=str)])
        con.execute("COMMIT")
    finally:
        for name in ("_labelled_ids", "_new_evidence", "_new_classes", "_new_scores"):
            con.unregister(name)
    det.setdefault("timings", {}).update(read_s=read_s, store_s=time.perf_counter() - started)
    counts = classes["class"].value_counts().to_dict()
    return {"labelled": len(records), "classes": {k: int(v) for k, v in counts.items()},
            "evidence_rows": len(evidence), "detector": det}


def latest_detector(con: duckdb.DuckDBPyConnection, drop: str) -> dict | None:
    """The detector report recorded by the latest provenance run of ``drop`` (the full report when stored)."""
    frame = con.execute(
        "SELECT * FROM detector_runs WHERE drop = ? ORDER BY created_at DESC LIMIT 1", [drop]
    ).df()
    if frame.empty:
        return None
    out = frame.iloc[0].to_dict()
    exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'detector_reports'"
                         ).fetchall()[0][0]
    if exists:
        rows = con.execute("SELECT report FROM detector_reports WHERE drop = ? ORDER BY created_at DESC LIMIT 1",
                           [drop]).fetchall()
        if rows:
            out["report"] = json.loads(rows[0][0])
    return out
