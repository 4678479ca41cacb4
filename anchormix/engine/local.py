"""The local engine: a per-record transform over DuckDB's record batches, in this process."""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa

from anchormix.stages.record_batches import RecordTransform, run_local


class LocalEngine:
    """The default engine; nothing to start or stop."""

    kind = "local"

    def run(self, con: duckdb.DuckDBPyConnection, transform: RecordTransform, drop: str,
            settings: Any = None) -> pa.Table:
        """:func:`~anchormix.stages.record_batches.run_local`: the drop's rows replaced; returns them."""
        return run_local(con, transform, drop, settings)

    def close(self) -> None:
        """Nothing to release."""
