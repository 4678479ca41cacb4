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

import hashlib
import json
import time
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from anchormix.provenance.classify import CONFIDENT_CLASSES
from anchormix.provenance.detector import Assessment, DetectorSettings
from anchormix.provenance.labeler import LabelHistory, label_records
from anchormix.provenance.licenses_kept import keep_licenses
from anchormix.provenance.registry import load_registry
from anchormix.store_writes import as_arrow, registered, transaction

DETECTOR_SCHEMA = """
CREATE TABLE IF NOT EXISTS detector_scores (
    content_hash VARCHAR, version VARCHAR, score DOUBLE, verdict VARCHAR, reason VARCHAR,
    created_at TIMESTAMP DEFAULT now(), PRIMARY KEY (content_hash, version));
CREATE TABLE IF NOT EXISTS detector_reports (
    drop VARCHAR, version VARCHAR, report VARCHAR, created_at TIMESTAMP DEFAULT now());
CREATE TABLE IF NOT EXISTS label_runs (
    drop VARCHAR, basis VARCHAR, full_relabel BOOLEAN, labelled BIGINT, created_at TIMESTAMP DEFAULT now());
"""


class StoreScoreCache:
    """Detector verdicts in the ``detector_scores`` table, keyed by (content hash, model version)."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self.pending: list[tuple[tuple[str, str], Assessment]] = []

    def get(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Assessment]:
        if not keys:
            return {}
        wanted = as_arrow(pd.DataFrame(keys, columns=["content_hash", "version"]))
        with registered(self.con, wanted) as name:
            rows = self.con.execute(
                "SELECT s.content_hash, s.version, s.score, s.verdict, s.reason FROM detector_scores s "
                f"JOIN {name} w USING (content_hash, version)").fetchall()
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


IN_SCOPE = "n.drop <= ? AND (d.status = 'unique' OR d.method = 'semantic')"
# Bump when the evidence or class rules change meaning, so the next night labels all history again.
LABEL_RULES_VERSION = "1"
# Settings that only say when to retrain: they change no class, so a change keeps the stored labels.
_SCHEDULE_ONLY = ("retrain_growth", "retrain_every_days", "rescore_per_night", "rescore_min")


def label_basis(registry_path: Path, settings: DetectorSettings) -> str:
    """Digest of everything besides the record itself and the model that a stored class depends on: the
    registry (with trust anchors), the detector settings that bear on evidence and trust, and the rules."""
    registry = load_registry(registry_path)
    anchors = {e.name: e.trust_anchors_pem() for e in registry if e.c2pa_trust_anchors is not None}
    payload = {"rules": LABEL_RULES_VERSION, "registry": registry.model_dump(), "anchors": anchors,
               "detector": {k: v for k, v in settings.model_dump().items() if k not in _SCHEDULE_ONLY}}
    text = json.dumps(payload, sort_keys=True, default=lambda v: v.hex() if isinstance(v, bytes) else str(v))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def last_basis(con: duckdb.DuckDBPyConnection) -> str | None:
    """The label basis of the latest provenance run, None before the first."""
    rows = con.execute("SELECT basis FROM label_runs ORDER BY created_at DESC LIMIT 1").fetchall()
    return rows[0][0] if rows else None


class StoreLabelHistory(LabelHistory):
    """:class:`LabelHistory` read from the store: records in scope on drops <= ``drop`` other than ``drop``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, drop: str, limit: int | None = None):
        self.con, self.drop, self.limit = con, drop, limit
        confident = con.execute(
            f"""SELECT p.id, n.content_hash, (p.class = 'synthetic_declared')::INTEGER AS label, r.source
            FROM provenance p JOIN normalized n USING (id) JOIN raw_records r USING (id) JOIN dedup d USING (id)
            WHERE {IN_SCOPE} AND n.drop <> ? AND p.class IN {tuple(CONFIDENT_CLASSES)} ORDER BY r.seq""",
            [drop, drop]).df()
        super().__init__(confident=confident, texts=self._texts, stale=self._stale)

    def _texts(self, ids: list[str]) -> dict[str, object]:
        with registered(self.con, pa.table({"id": pa.array(ids, pa.string())})) as wanted:
            rows = self.con.execute(f"SELECT n.id, n.norm_text FROM normalized n JOIN {wanted} USING (id)").fetchall()
        return dict(rows)

    def _stale(self, version: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
        # Detector-dependent: the record has a detector verdict, or no class but unknown. Stale: the verdict
        # is another model's, or it has none while a model exists.
        self.con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _stale AS
            SELECT p.id, n.content_hash FROM provenance p JOIN normalized n USING (id) JOIN dedup d USING (id)
            LEFT JOIN (SELECT id, any_value(ref) AS ref FROM evidence WHERE signal = 'detector' GROUP BY id) v
              USING (id)
            WHERE {IN_SCOPE} AND n.drop <> ?
              AND ((v.id IS NOT NULL AND v.ref IS DISTINCT FROM ?) OR (v.id IS NULL AND p.class = 'unknown' AND ?))""",
            [self.drop, self.drop, version, version is not None])
        try:
            total = self.con.execute("SELECT count(*) FROM _stale").fetchone()[0]
            if version is not None and self.limit is not None and total > self.limit:
                # Newest drops first: they are the likeliest to enter tonight's mix.
                self.con.execute("DELETE FROM _stale WHERE id NOT IN (SELECT id FROM _stale s JOIN normalized n "
                                 "USING (id) ORDER BY n.drop DESC, s.id LIMIT ?)", [self.limit])
            self.deferred = total - self.con.execute("SELECT count(*) FROM _stale").fetchone()[0]
            stale = self.con.execute("SELECT id, content_hash FROM _stale ORDER BY id").df()
            kept = self.con.execute(
                "SELECT e.id AS record_id, e.signal, e.value, e.verdict, e.ref FROM evidence e JOIN _stale USING (id) "
                "WHERE e.signal <> 'detector'").df()
        finally:
            self.con.execute("DROP TABLE IF EXISTS _stale")
        return stale, kept


def provenance_drop(con: duckdb.DuckDBPyConnection, drop: str, registry_path: Path,
                    settings: DetectorSettings, model_dir: Path, embedding=None, engine=None) -> dict:
    """Label tonight's records, and the stored ones whose class a changed model or registry changes.

    The stored evidence and classes stand while the registry, the rules and the
    class-bearing detector settings are unchanged (:func:`label_basis`): then
    only records of ``drop`` and records without a class are labelled from
    scratch, the stored confident records join the training set, and a stored
    class that came from another model's verdict is made again from its kept
    evidence: at most ``rescore_per_night`` per record of tonight (at least
    ``rescore_min``) a night, newest drops first, so a retrain night costs in
    proportion to the drop and history catches up over the next nights. A
    changed basis labels every record of drops <= ``drop``.
    Returns the class counts over all records in scope, the detector report
    and timings.

    ``embedding``: the ``[embedding]`` settings whose cached vectors feed the
    detector's embedding block (default: the project configuration's).
    ``engine``: where the unknown records are scored
    (:data:`~anchormix.stages.detector_scores.DETECTOR_SCORES`; None: in this
    process); training, evidence and classes stay on the driver.
    """
    from anchormix.embed import embed_texts
    from anchormix.stages.detector_scores import engine_scorer

    if embedding is None:
        from anchormix.config import load_settings

        embedding = load_settings().embedding
    started = time.perf_counter()
    init_detector_tables(con)
    registry = load_registry(registry_path)
    basis = label_basis(registry_path, settings)
    full = last_basis(con) != basis
    records = con.execute(
        f"""
        SELECT n.id, r.source, n.norm_text, n.content_hash, r.fetched_at, r.manifest, r.media_path, n.drop
        FROM normalized n JOIN raw_records r USING (id) JOIN dedup d USING (id)
        WHERE {IN_SCOPE} AND (? OR n.drop = ? OR n.id NOT IN (SELECT id FROM provenance)) ORDER BY r.seq
        """,
        [drop, full, drop],
    ).df()
    budget = max(settings.rescore_min, int(settings.rescore_per_night * len(records)))
    history = None if full else StoreLabelHistory(con, drop, budget if settings.rescore_per_night else None)
    read_s = time.perf_counter() - started
    cache = StoreScoreCache(con)

    def embed(hashes, texts):
        return embed_texts(con, list(hashes), list(texts), embedding).vectors

    result = label_records(records, registry, settings, model_dir, embed=embed, score_cache=cache,
                           previous_version=previous_model(con, drop), today=drop, embedding_settings=embedding,
                           history=history, scorer=engine_scorer(con, drop, engine))
    started = time.perf_counter()
    det = result.detector
    health = det.get("health") or {}
    with transaction(con), registered(con, as_arrow(result.evidence)) as new_evidence, \
            registered(con, as_arrow(result.classes)) as new_classes, registered(con, as_arrow(cache.frame())) as scores:
        con.execute(f"DELETE FROM evidence WHERE id IN (SELECT id FROM {new_classes})")
        con.execute(f"DELETE FROM provenance WHERE id IN (SELECT id FROM {new_classes})")
        # A record's drop is its normalized row's (stored history keeps the drop it came in).
        con.execute("INSERT INTO evidence SELECT e.record_id, n.drop, e.signal, e.value, e.verdict, e.ref "
                    f"FROM {new_evidence} e JOIN normalized n ON n.id = e.record_id")
        con.execute(f'INSERT INTO provenance SELECT c.id, n.drop, c."class", c.reason '
                    f"FROM {new_classes} c JOIN normalized n USING (id)")
        con.execute("INSERT OR IGNORE INTO detector_scores (content_hash, version, score, verdict, reason) "
                    f"SELECT * FROM {scores}")
        con.execute(
            "INSERT INTO detector_runs (drop, version, trained, reason, heldout_auroc, threshold, precision, recall, "
            "n_train, n_test) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [drop, det.get("version"), bool(det.get("trained")), det.get("reason"),
             health.get("auroc", det.get("heldout_auroc")), det.get("threshold"), det.get("precision"),
             det.get("recall"), det.get("n_train"), det.get("n_test")],
        )
        con.execute("INSERT INTO detector_reports (drop, version, report) VALUES (?, ?, ?)",
                    [drop, det.get("version"), json.dumps(det, default=str)])
        con.execute("INSERT INTO label_runs (drop, basis, full_relabel, labelled) VALUES (?, ?, ?, ?)",
                    [drop, basis, full, len(result.classes)])
        keep_licenses(con)  # a record's license is kept from its first labelling; a relabel never moves it
    det.setdefault("timings", {}).update(read_s=read_s, store_s=time.perf_counter() - started)
    counts = dict(con.execute(
        f"""SELECT p.class, count(*) FROM provenance p JOIN normalized n USING (id) JOIN dedup d USING (id)
        WHERE {IN_SCOPE} GROUP BY 1""", [drop]).fetchall())
    return {"labelled": len(result.classes), "in_scope": int(sum(counts.values())), "full_relabel": full,
            "classes": {k: int(v) for k, v in counts.items()}, "evidence_rows": len(result.evidence),
            "detector": det}


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
