"""The DuckDB store: schema and the few queries several stages share.

Every stage writes its results keyed by record id and the drop (partition) the
record arrived in, so a re-run of a drop replaces that drop's rows instead of
adding to them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from anchormix.threads import configure_threads

SCHEMA = """
CREATE TABLE IF NOT EXISTS ingested_files (
    path VARCHAR PRIMARY KEY, sha256 VARCHAR, drop VARCHAR, n_rows INTEGER,
    n_loaded INTEGER, n_quarantined INTEGER, ingested_at TIMESTAMP DEFAULT now());
-- Added later, so stores made before them gain them: the file's size, and what of it could not be
-- read into rows (n_rows = n_loaded + n_quarantined always; NULL when the file was not opened).
ALTER TABLE ingested_files ADD COLUMN IF NOT EXISTS n_bytes BIGINT;
ALTER TABLE ingested_files ADD COLUMN IF NOT EXISTS n_unread_rows BIGINT;
ALTER TABLE ingested_files ADD COLUMN IF NOT EXISTS n_unread_bytes BIGINT;
CREATE TABLE IF NOT EXISTS raw_records (
    id VARCHAR PRIMARY KEY, drop VARCHAR, file VARCHAR, line INTEGER, url VARCHAR,
    fetched_at VARCHAR, text VARCHAR, source VARCHAR, metadata VARCHAR, manifest VARCHAR,
    media_path VARCHAR, seq BIGINT);
CREATE TABLE IF NOT EXISTS quarantine (
    drop VARCHAR, file VARCHAR, line INTEGER, record_id VARCHAR, reason VARCHAR, excerpt VARCHAR);
CREATE TABLE IF NOT EXISTS normalized (
    id VARCHAR PRIMARY KEY, drop VARCHAR, norm_text VARCHAR, content_hash VARCHAR,
    n_chars INTEGER, n_words INTEGER);
CREATE TABLE IF NOT EXISTS dedup (
    id VARCHAR PRIMARY KEY, drop VARCHAR, status VARCHAR, duplicate_of VARCHAR,
    method VARCHAR, similarity DOUBLE);
CREATE TABLE IF NOT EXISTS evidence (
    id VARCHAR, drop VARCHAR, signal VARCHAR, value VARCHAR, verdict VARCHAR, ref VARCHAR);
CREATE TABLE IF NOT EXISTS provenance (
    id VARCHAR PRIMARY KEY, drop VARCHAR, class VARCHAR, reason VARCHAR);
CREATE TABLE IF NOT EXISTS detector_runs (
    drop VARCHAR, version VARCHAR, trained BOOLEAN, reason VARCHAR, heldout_auroc DOUBLE,
    threshold DOUBLE, precision DOUBLE, recall DOUBLE, n_train INTEGER, n_test INTEGER,
    created_at TIMESTAMP DEFAULT now());
CREATE TABLE IF NOT EXISTS quality (
    id VARCHAR PRIMARY KEY, drop VARCHAR, score DOUBLE, passed BOOLEAN, reasons VARCHAR);
CREATE TABLE IF NOT EXISTS clusters (
    id VARCHAR PRIMARY KEY, drop VARCHAR, cluster INTEGER, baseline_id VARCHAR);
CREATE TABLE IF NOT EXISTS candidates (
    fingerprint VARCHAR PRIMARY KEY, drop VARCHAR, created_at TIMESTAMP DEFAULT now(),
    policy VARCHAR, thresholds VARCHAR, watermark BIGINT, n_records INTEGER,
    feasible BOOLEAN, infeasible_reasons VARCHAR, report VARCHAR);
CREATE TABLE IF NOT EXISTS candidate_records (
    fingerprint VARCHAR, id VARCHAR, reason VARCHAR);
-- The tail probe set each candidate withheld from its mix (anchormix/probes.py); kept: a probe of the
-- previous generation.
CREATE TABLE IF NOT EXISTS candidate_probes (
    fingerprint VARCHAR, id VARCHAR, cluster INTEGER, label VARCHAR, kept BOOLEAN);
-- The probe's content hash as withheld, so a former probe's text stays out of training after a retraction
-- removed its normalized row (NULL on rows written before it was added: read from normalized then).
ALTER TABLE candidate_probes ADD COLUMN IF NOT EXISTS content_hash VARCHAR;
CREATE TABLE IF NOT EXISTS record_states (
    fingerprint VARCHAR, state VARCHAR, detail VARCHAR, n BIGINT);
CREATE TABLE IF NOT EXISTS gate_results (
    fingerprint VARCHAR, gate VARCHAR, passed BOOLEAN, details VARCHAR,
    evaluated_at TIMESTAMP DEFAULT now());
CREATE TABLE IF NOT EXISTS publications (
    generation INTEGER PRIMARY KEY, fingerprint VARCHAR, drop VARCHAR, path VARCHAR,
    n_records INTEGER, published_at TIMESTAMP DEFAULT now());
CREATE TABLE IF NOT EXISTS published_records (
    generation INTEGER, id VARCHAR);
CREATE TABLE IF NOT EXISTS metrics_history (
    generation INTEGER, fingerprint VARCHAR, drop VARCHAR, metric VARCHAR, value DOUBLE,
    published BOOLEAN, recorded_at TIMESTAMP DEFAULT now());
CREATE SEQUENCE IF NOT EXISTS record_seq;
-- Rows of a file version that was corrected or removed: a terminal state of their own, kept whole.
CREATE TABLE IF NOT EXISTS retracted_records (
    id VARCHAR, drop VARCHAR, file VARCHAR, line INTEGER, url VARCHAR, fetched_at VARCHAR, text VARCHAR,
    source VARCHAR, metadata VARCHAR, manifest VARCHAR, media_path VARCHAR, seq BIGINT,
    superseded_by VARCHAR, reason VARCHAR, retract_seq BIGINT, retracted_at TIMESTAMP DEFAULT now());
-- Each record's license, written once when it is first labelled under a registered source and kept through
-- relabels (anchormix/provenance/licenses_kept.py); changed only by `anchormix relicense`.
CREATE TABLE IF NOT EXISTS record_licenses (
    id VARCHAR PRIMARY KEY, source VARCHAR, license VARCHAR, recorded_at TIMESTAMP DEFAULT now(), note VARCHAR);
ALTER TABLE ingested_files ADD COLUMN IF NOT EXISTS superseded_by VARCHAR;
ALTER TABLE ingested_files ADD COLUMN IF NOT EXISTS n_retracted BIGINT;
"""


STORE_TIMEOUT_ENV = "ANCHORMIX_STORE_TIMEOUT"
DEFAULT_STORE_TIMEOUT_S = 900.0


class StoreBusy(RuntimeError):
    """Another process held the store for longer than the wait allowed."""


def connect_store(path, read_only: bool = False, timeout_s: float | None = None,
                  poll_s: float = 0.5) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB store, waiting while another process holds its lock.

    DuckDB lets one process write a file, and refuses even a read-only open
    while another process writes it. A second nightly run, or ``anchormix
    summary`` during a run, therefore waits here (``timeout_s``, default
    ``$ANCHORMIX_STORE_TIMEOUT`` or 900 s) instead of failing at once, and
    then fails with a message that says who holds the store.
    """
    import os
    import time

    if timeout_s is None:
        timeout_s = float(os.environ.get(STORE_TIMEOUT_ENV, DEFAULT_STORE_TIMEOUT_S))
    deadline = time.monotonic() + timeout_s
    announced = False
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            con.execute(f"SET threads = {configure_threads()}")
            return con
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() >= deadline:
                holder = str(exc).split("Conflicting lock is held in", 1)[-1].strip()
                raise StoreBusy(
                    f"the store {path} is in use by another process ({holder}); waited {timeout_s:.0f} s. Let the "
                    f"running job finish, or set {STORE_TIMEOUT_ENV} to wait longer") from None
            if not announced:
                import sys

                print(f"waiting for the store {path}: another process holds it", file=sys.stderr)
                announced = True
            time.sleep(poll_s)


def init_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table the pipeline uses (idempotent)."""
    con.execute(SCHEMA)


def watermark(con: duckdb.DuckDBPyConnection, drop: str) -> int:
    """A number that changes whenever records for drops <= ``drop`` are added or retracted."""
    row = con.execute(
        "SELECT greatest((SELECT coalesce(max(seq), 0) FROM raw_records WHERE drop <= $d), "
        "(SELECT coalesce(max(retract_seq), 0) FROM retracted_records WHERE drop <= $d))", {"d": drop}).fetchone()
    return int(row[0])


# Every record that was ever in a published generation's tail probe set, by id and content hash. A probe can
# leave the set (a lower probe_per_cluster or probe_max, a replace night) while model teams still score old
# probe files, so none of these may ever be trained on: the mix withholds them for good (anchormix.stages.mix).
PUBLISHED_PROBES_SQL = """
    SELECT DISTINCT cp.id, coalesce(cp.content_hash, n.content_hash) AS content_hash
    FROM candidate_probes cp JOIN publications p USING (fingerprint) LEFT JOIN normalized n USING (id)
"""


def counts(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> dict:
    """Run a two-column ``key, count`` query into a dict."""
    return {k: int(v) for k, v in con.execute(sql, params or []).fetchall()}


def model_file_beside(con: duckdb.DuckDBPyConnection, kind: str, model_id: str, suffix: str) -> Path | None:
    """``<store>.<kind>/<model hash><suffix>``: a file of ``model_id``'s kept beside the store's file (its semantic
    index, its cached vectors); None for an in-memory store."""
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    if not row or not row[0]:
        return None
    store = Path(row[0])
    return store.with_name(f"{store.name}.{kind}") / f"{hashlib.sha256(model_id.encode()).hexdigest()[:16]}{suffix}"
