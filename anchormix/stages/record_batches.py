"""Per-record stages as pure transforms over Arrow record batches.

A per-record stage (normalize, quality) splits into a query that selects its
input columns for one drop, a function from one input batch to one batch of
output rows, and the table the rows replace. The function reads and writes no
store, so the engine that runs it is free: :func:`run_local` loops over DuckDB's
record batches in this process; a distributed engine maps the same function over
the drop's Parquet shards.

A global stage can have a per-record part too (MinHash signatures inside dedup,
vectors inside embeddings): its transform has no ``table``, and the engine hands
the rows back to the driver, which keeps what the stage's global step decides
(accepted signatures, cached vectors).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from anchormix.store_writes import replace_drop_rows, settle

BATCH_ROWS = 8192


@dataclass(frozen=True)
class RecordTransform:
    """``fn(batch, settings)`` maps each batch of ``source_sql``'s rows (one ``?``: the drop) to rows of
    ``table`` with the columns of ``schema`` (the engine adds ``drop``).

    ``table`` None: the rows are returned to the caller and stored nowhere (the
    per-record part of a global stage). ``params(settings)``: more query
    parameters after the drop (the query then numbers them ``$1``, ``$2``, …).
    ``load(settings)``: what ``fn`` needs loaded once per worker process (a
    model, kept in that process's cache); an engine with long-lived workers runs
    it as each worker starts. ``on_gpu(settings)``: the settings to run with on a
    worker that holds a GPU, or None when the transform cannot use one.
    """

    name: str
    source_sql: str
    table: str | None
    schema: pa.Schema
    fn: Callable[[pa.RecordBatch, Any], pa.RecordBatch]
    params: Callable[[Any], Sequence[Any]] | None = None
    load: Callable[[Any], Any] | None = None
    on_gpu: Callable[[Any], Any] | None = None

    @property
    def label(self) -> str:
        """The table, or for a transform that stores nothing its name (names its Parquet and staging)."""
        return self.table or self.name

    def query_params(self, drop: str, settings: Any = None) -> list[Any]:
        """The parameters of ``source_sql``: the drop, then ``params(settings)``."""
        return [drop, *(self.params(settings) if self.params is not None else ())]

    def apply(self, batch: pa.RecordBatch, settings: Any = None) -> pa.RecordBatch:
        """``fn`` on one batch, its output checked against ``schema`` (an engine never stores a surprise)."""
        out = self.fn(batch, settings)
        if out.schema != self.schema:
            out = pa.RecordBatch.from_arrays([out.column(f.name).cast(f.type) for f in self.schema],
                                             schema=self.schema)
        return out


def input_reader(con: duckdb.DuckDBPyConnection, transform: RecordTransform, drop: str,
                 batch_rows: int = BATCH_ROWS, settings: Any = None) -> pa.RecordBatchReader:
    """The transform's input rows of ``drop``, streamed in batches of ``batch_rows``."""
    # A caller's fetchone() (ingest's on a re-run drop) leaves a result DuckDB 2 must finish first.
    params = transform.query_params(drop, settings)
    return settle(con).sql(transform.source_sql, params=params).to_arrow_reader(batch_rows)


def run_local(con: duckdb.DuckDBPyConnection, transform: RecordTransform, drop: str, settings: Any = None,
              batch_rows: int = BATCH_ROWS) -> pa.Table:
    """Run ``transform`` over ``drop`` in this process and replace the drop's rows of its table atomically
    (a transform without a table stores nothing); returns the rows (with ``drop``)."""
    reader = input_reader(con, transform, drop, batch_rows, settings)
    out = pa.Table.from_batches([transform.apply(b, settings) for b in reader], schema=transform.schema)
    out = out.append_column("drop", pa.array([drop] * out.num_rows, pa.string()))
    if transform.table is not None:
        replace_drop_rows(con, transform.table, drop, out)
    return out
