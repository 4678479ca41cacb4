"""Score the quality of a drop's unique records."""

from __future__ import annotations

import duckdb

from anchormix.quality import QualitySettings, assess
from anchormix.store_writes import replace_drop_rows


def quality_drop(con: duckdb.DuckDBPyConnection, drop: str, settings: QualitySettings) -> dict:
    """(Re)build the ``quality`` rows of ``drop``; returns pass count and failure reasons."""
    rows = con.execute(
        "SELECT n.id, n.norm_text, r.metadata FROM normalized n JOIN dedup d USING (id) "
        "LEFT JOIN raw_records r USING (id) WHERE n.drop = ? AND d.status = 'unique'",
        [drop],
    ).fetchall()
    out, reasons = [], {}
    for record_id, text, metadata in rows:
        result = assess(text, settings, metadata)
        out.append((record_id, drop, result.score, result.passed, ";".join(result.reasons)))
        for reason in result.reasons:
            key = reason.split("(", 1)[0]
            reasons[key] = reasons.get(key, 0) + 1
    replace_drop_rows(con, "quality", drop, {name: [row[i] for row in out] for i, name in
                                             enumerate(("id", "drop", "score", "passed", "reasons"))})
    passed = sum(1 for row in out if row[3])
    return {"scored": len(out), "passed": passed, "failed": len(out) - passed, "reasons": reasons}
