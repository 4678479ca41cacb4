"""Terminal states: every record in ends in exactly one state for a candidate.

``records_in`` is counted independently of the states, from the per-file tallies
ingest kept of what it read, so a record that a stage silently dropped shows up
as ``unaccounted`` and breaks the conservation expectation instead of vanishing.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from anchormix.store import PUBLISHED_PROBES_SQL

STATE_SQL = """
    SELECT CASE
             WHEN c.id IS NOT NULL AND EXISTS (SELECT 1 FROM publications WHERE fingerprint = $fp) THEN 'published'
             WHEN c.id IS NOT NULL THEN 'selected'
             WHEN d.status = 'duplicate' THEN 'duplicate'
             WHEN q.passed = false THEN 'filtered'
             WHEN d.status = 'unique' AND q.passed AND p.class IS NOT NULL THEN 'held'
             ELSE 'unaccounted'
           END AS state,
           CASE
             WHEN c.id IS NOT NULL THEN c.reason
             WHEN d.status = 'duplicate' THEN d.method
             WHEN q.passed = false THEN split_part(q.reasons, '(', 1)
             WHEN pr.id IS NOT NULL THEN 'tail probe, withheld from training'
             WHEN fi.id IS NOT NULL OR fh.content_hash IS NOT NULL THEN 'former tail probe, never trained on'
             WHEN d.status = 'unique' THEN 'eligible, not sampled'
             ELSE 'missing stage output'
           END AS detail,
           count(*) AS n
    FROM raw_records r
    LEFT JOIN dedup d USING (id)
    LEFT JOIN quality q USING (id)
    LEFT JOIN provenance p USING (id)
    LEFT JOIN (SELECT id, reason FROM candidate_records WHERE fingerprint = $fp) c USING (id)
    LEFT JOIN (SELECT id FROM candidate_probes WHERE fingerprint = $fp) pr USING (id)
    LEFT JOIN normalized n USING (id)
    -- Distinct on each key, so neither join can repeat a record.
    LEFT JOIN (SELECT DISTINCT id FROM (""" + PUBLISHED_PROBES_SQL + """)) fi USING (id)
    LEFT JOIN (SELECT DISTINCT content_hash FROM (""" + PUBLISHED_PROBES_SQL + """)) fh
      ON fh.content_hash = n.content_hash
    WHERE r.drop <= $drop
    GROUP BY ALL
    UNION ALL
    SELECT 'quarantined', split_part(reason, ':', 1), count(*) FROM quarantine WHERE drop <= $drop GROUP BY ALL
    UNION ALL
    SELECT 'retracted', coalesce('superseded by ' || superseded_by, reason), count(*) FROM retracted_records
    WHERE drop <= $drop GROUP BY ALL
"""


def terminal_states(con: duckdb.DuckDBPyConnection, drop: str, fingerprint: str) -> pd.DataFrame:
    """``state, detail, n`` for every record through ``drop`` against a candidate."""
    return con.execute(STATE_SQL, {"fp": fingerprint, "drop": drop}).df()


def records_in(con: duckdb.DuckDBPyConnection, drop: str) -> int:
    """Rows that entered the pipeline through ``drop``, counted from what ingest read: every file version's
    rows seen (loaded plus quarantined), including versions since corrected or removed."""
    row = con.execute("SELECT coalesce(sum(n_rows), 0) FROM ingested_files WHERE drop <= ?", [drop]).fetchone()
    return int(row[0])


def conservation_frame(con: duckdb.DuckDBPyConnection, drop: str, fingerprint: str) -> pd.DataFrame:
    """One row: records in, each terminal state's count, and their total."""
    states = con.execute(
        "SELECT state, sum(n) FROM record_states WHERE fingerprint = ? GROUP BY state", [fingerprint]
    ).fetchall()
    by_state = {state: int(n) for state, n in states}
    terminal = ("published", "selected", "held", "filtered", "duplicate", "quarantined", "retracted")
    row = {"records_in": records_in(con, drop)}
    row.update({state: by_state.get(state, 0) for state in terminal})
    row["unaccounted"] = by_state.get("unaccounted", 0)
    row["terminal_total"] = sum(row[state] for state in terminal)
    return pd.DataFrame([row])
