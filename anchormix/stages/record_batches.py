"""Per-record stages as pure transforms over Arrow record batches.

A per-record stage (normalize, quality) splits into a query that selects its
input columns for one drop, a function from one input batch to one batch of
output rows, and the table the rows replace. The function reads and writes no
store, so the engine that runs it is free: :func:`run_local` loops over DuckDB's
record batches in this process; a distributed engine maps the same function over
the drop's Parquet shards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from anchormix.store_writes import replace_drop_rows

BATCH_ROWS = 8192


@dataclass(frozen=True)
class RecordTransform:
    """``fn(batch, settings)`` maps each batch of ``source_sql``'s rows (one ``?``: the drop) to rows of
    ``table`` with the columns of ``schema`` (the engine adds ``drop``)."""

    name: str
    source_sql: str
    table: str
    schema: pa.Schema
    fn: Callable[[pa.RecordBatch, Any], pa.RecordBatch]

    def apply(self, batch: pa.RecordBatch, settings: Any = None) -> pa.RecordBatch:
        """``fn`` on one batch, its output checked against ``schema`` (an engine never stores a surprise)."""
        out = self.fn(batch, settings)
        if out.schema != self.schema:
            out = pa.RecordBatch.from_arrays([out.column(f.name).cast(f.type) for f in self.schema],
                                             schema=self.schema)
        return out


def input_reader(con: duckdb.DuckDBPyConnection, transform: RecordTransform, drop: str,
                 batch_rows: int = BATCH_ROWS) -> pa.RecordBatchReader:
    """The transform's input rows of ``drop``, streamed in batches of ``batch_rows``."""
    # DuckDB 2 refuses con.sql while an earlier execute() result on con is unread (a caller's fetchone(),
    # such as ingest's on a re-run drop); run that result to its end first, as a new execute() would.
    complete = getattr(con, "complete", None)
    if complete is not None:
        complete()
    return con.sql(transform.source_sql, params=[drop]).to_arrow_reader(batch_rows)


def run_local(con: duckdb.DuckDBPyConnection, transform: RecordTransform, drop: str, settings: Any = None,
              batch_rows: int = BATCH_ROWS) -> pa.Table:
    """Run ``transform`` over ``drop`` in this process and replace the drop's rows of its table atomically;
    returns the rows written (with ``drop``)."""
    reader = input_reader(con, transform, drop, batch_rows)
    out = pa.Table.from_batches([transform.apply(b, settings) for b in reader], schema=transform.schema)
    out = out.append_column("drop", pa.array([drop] * out.num_rows, pa.string()))
    replace_drop_rows(con, transform.table, drop, out)
    return out
