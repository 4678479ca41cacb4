"""Score the quality of a drop's unique records (a per-record transform)."""

from __future__ import annotations

from collections import Counter

import duckdb
import pyarrow as pa

from anchormix.quality import QualitySettings, assess_batch
from anchormix.engine import Engine, run_transform
from anchormix.stages.record_batches import RecordTransform

SCHEMA = pa.schema([("id", pa.string()), ("score", pa.float64()), ("passed", pa.bool_()), ("reasons", pa.string())])


def quality_batch(batch: pa.RecordBatch, settings: QualitySettings) -> pa.RecordBatch:
    """``(id, norm_text, metadata)`` rows -> score, pass and the failed rules (``;``-joined)."""
    results = assess_batch(batch.column("norm_text").to_pylist(), settings, batch.column("metadata").to_pylist())
    return pa.RecordBatch.from_arrays(
        [batch.column("id"), pa.array([r.score for r in results], pa.float64()),
         pa.array([r.passed for r in results], pa.bool_()), pa.array([";".join(r.reasons) for r in results])],
        schema=SCHEMA)


QUALITY = RecordTransform(
    "quality", "SELECT n.id, n.norm_text, r.metadata FROM normalized n JOIN dedup d USING (id) "
    "LEFT JOIN raw_records r USING (id) WHERE n.drop = ? AND d.status = 'unique' ORDER BY n.id",
    "quality", SCHEMA, quality_batch)


def quality_drop(con: duckdb.DuckDBPyConnection, drop: str, settings: QualitySettings,
                 engine: Engine | None = None) -> dict:
    """(Re)build the ``quality`` rows of ``drop`` on ``engine`` (None: in this process); returns pass count and
    failure reasons."""
    out = run_transform(con, QUALITY, drop, settings, engine)
    reasons = Counter(r.split("(", 1)[0] for joined in out.column("reasons").to_pylist() if joined
                      for r in joined.split(";"))
    passed = sum(out.column("passed").to_pylist())
    return {"scored": out.num_rows, "passed": passed, "failed": out.num_rows - passed, "reasons": dict(reasons)}
