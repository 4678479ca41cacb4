"""Correct and retract: a file that changed under the same name, or left the inbox, takes its rows back.

The rows of the old version move, whole, to ``retracted_records`` (terminal
state ``retracted``, naming the superseding file), together with everything the
stages derived from them, so the corrected version may reuse the old ids and
the next candidate of the drop reflects the change. Published generations are
never altered: they are immutable directories, and ``published_records`` keeps
what each one held. Quarantine rows of the old version stay: they were read,
and quarantined is their terminal state.
"""

from __future__ import annotations

import duckdb

# Tables whose rows are derived from a record id and must not outlive it.
# A retracted record's kept license goes too: a corrected version reusing its id is licensed when labelled.
DERIVED = ("normalized", "dedup", "quality", "provenance", "evidence", "clusters", "record_licenses")


def live_versions(con: duckdb.DuckDBPyConnection, drop: str, display: str) -> list[str]:
    """Keys of the not-yet-superseded, read versions of the file ``display`` in ``drop``."""
    return [r[0] for r in con.execute(
        "SELECT path FROM ingested_files WHERE drop = ? AND sha256 IS NOT NULL AND superseded_by IS NULL "
        "AND (path = ? OR starts_with(path, ? || ' ['))", [drop, display, display]).fetchall()]


def retract_file(con: duckdb.DuckDBPyConnection, drop: str, key: str, display: str, superseded_by: str | None,
                 reason: str) -> list[str]:
    """Retract the rows loaded from one file version; returns their ids. One transaction."""
    ids = [r[0] for r in con.execute("SELECT id FROM raw_records WHERE drop = ? AND file = ?", [drop, display]).fetchall()]
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "INSERT INTO retracted_records SELECT *, ?, ?, nextval('record_seq'), now() FROM raw_records "
            "WHERE drop = ? AND file = ?", [superseded_by, reason, drop, display])
        if ids:
            con.execute("CREATE OR REPLACE TEMP TABLE _gone AS SELECT unnest(?::VARCHAR[]) AS id", [ids])
            for table in DERIVED:
                con.execute(f"DELETE FROM {table} WHERE id IN (SELECT id FROM _gone)")
            con.execute("DELETE FROM raw_records WHERE drop = ? AND file = ?", [drop, display])
        con.execute("UPDATE ingested_files SET superseded_by = ?, n_retracted = ? WHERE path = ?",
                    [superseded_by or "(removed from the inbox)", len(ids), key])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return ids


def retract_removed(con: duckdb.DuckDBPyConnection, drop: str, present: set[str]) -> dict[str, int]:
    """Retract every live file version of ``drop`` whose file is no longer in the inbox (``present``)."""
    done = {}
    rows = con.execute("SELECT path FROM ingested_files WHERE drop = ? AND sha256 IS NOT NULL AND superseded_by "
                       "IS NULL", [drop]).fetchall()
    for (key,) in rows:
        display = key.split(" [", 1)[0]
        if display not in present:
            done[display] = len(retract_file(con, drop, key, display, None, "removed from the inbox"))
    return done
