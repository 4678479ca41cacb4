"""Each record's license, kept from when it was taken in: ``record_licenses`` (schema in :mod:`anchormix.store`).

A record is taken in under the terms its source offered then. The provenance
stage rewrites a record's ``registry`` evidence whenever the registry changes
(it relabels all history), so reading the license back from that evidence
would move records already in, and already published, to whatever the
registry says today: a source relicensed to CC-BY-NC would take its CC-BY-4.0
records with it. So the license is written once, into its own table, the
first time a record is labelled as coming from a registered source, and a
relabel never touches it. A record of a source not (yet) registered has no
row and reads as ``NOASSERTION`` until it is labelled under a registration.

A license recorded by mistake (a wrong registry entry on the night the records
came in) is corrected deliberately, never by editing the registry:
:func:`relicense` (``anchormix relicense SOURCE --license X [--drops ...]``)
rewrites the rows and notes what they said before.
"""

from __future__ import annotations

import duckdb

from anchormix.licenses import normalize_license

# The license part of a `registry` evidence value, kind/license/tier (the license may itself hold a '/').
_FROM_EVIDENCE = "nullif(max(regexp_extract(e.value, '^[^/]*/(.*)/[^/]*$', 1)), '')"

# A record's license for the mix and the publisher (alias ``r`` is the record's raw_records row).
LICENSE_SQL = ("coalesce((SELECT k.license FROM record_licenses k WHERE k.id = r.id), 'NOASSERTION')")


def keep_licenses(con: duckdb.DuckDBPyConnection) -> int:
    """Record the license of every record with ``registry`` evidence and no kept license yet; how many.

    Called at the end of the provenance stage's transaction, after the
    evidence is written. Existing rows are never changed, so a relabel under an
    edited registry keeps the license each record came in under.
    """
    # Fetched whole: the caller's transaction goes on on this connection, which an open result would block.
    inserted = con.execute(
        f"""INSERT INTO record_licenses (id, source, license, note)
        SELECT e.id, any_value(r.source), {_FROM_EVIDENCE}, 'registry entry when first labelled'
        FROM evidence e JOIN raw_records r USING (id)
        WHERE e.signal = 'registry' AND e.verdict = 'registered'
          AND NOT EXISTS (SELECT 1 FROM record_licenses k WHERE k.id = e.id)
        GROUP BY e.id HAVING {_FROM_EVIDENCE} IS NOT NULL""").fetchall()
    return int(inserted[0][0]) if inserted else 0


def relicense(con: duckdb.DuckDBPyConnection, source: str, license: str, drops: list[str] | None = None,
              reason: str = "") -> dict[str, int]:
    """Set the kept license of ``source``'s records (of ``drops``; None: every drop) to ``license``.

    The deliberate correction of a license recorded by mistake. Records of the
    source without a row (unregistered when labelled) get one. Published
    generations are immutable and keep what they were published with; the next
    candidate carries the new license. Returns ``{previous license: records}``.
    Raises ValueError on an expression that is not SPDX.
    """
    license = normalize_license(license)
    where = "r.source = ?" + (" AND r.drop IN (SELECT unnest(?::VARCHAR[]))" if drops else "")
    params: list = [source] + ([list(drops)] if drops else [])
    previous = {k: int(n) for k, n in con.execute(
        f"""SELECT coalesce(k.license, 'NOASSERTION'), count(*) FROM raw_records r
        LEFT JOIN record_licenses k USING (id) WHERE {where} GROUP BY 1""", params).fetchall()}
    note = f"relicensed by hand{': ' + reason if reason else ''}"
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            f"""INSERT OR REPLACE INTO record_licenses (id, source, license, recorded_at, note)
            SELECT r.id, r.source, ?, now(), ? || ' (was ' || coalesce(k.license, 'NOASSERTION') || ')'
            FROM raw_records r LEFT JOIN record_licenses k USING (id) WHERE {where}""", [license, note] + params)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return previous
