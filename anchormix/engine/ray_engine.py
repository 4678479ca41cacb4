"""The Ray engine: a per-record transform mapped by Ray Data over the drop's Parquet shards.

The driver exports the transform's input rows from DuckDB to Parquet under
``[paths] data_root``; Ray Data reads the shards, maps the transform's batch
function over them on the cluster's workers and writes the output as Parquet
into a staging directory. The driver checks that output (one row per input row),
moves it into place and loads it into DuckDB in one transaction. Workers never
open the DuckDB file, so a cluster needs only ``data_root`` on shared storage.

A worker process that dies is a system failure: Ray runs its task again, up to
``[engine] max_retries`` times. An exception raised by the transform is not
retried. Either way a failed stage changes neither its Parquet output nor its
DuckDB rows.
"""

from __future__ import annotations

import logging
import os
from functools import partial
from typing import Any

import duckdb
import pyarrow as pa

from anchormix.engine import shards
from anchormix.engine.settings import EngineSettings
from anchormix.stages.record_batches import BATCH_ROWS, RecordTransform
from anchormix.store_writes import replace_drop_rows

log = logging.getLogger(__name__)


def apply_with_row(table: pa.Table, transform: RecordTransform, settings: Any) -> pa.Table:
    """One Ray batch through ``transform``, each output row keeping its input row's :data:`~shards.ROW`.

    Runs on a worker. A per-record transform gives one row per input row; any
    other count would lose or invent records, so it is an error.
    """
    rows = table.column(shards.ROW)
    body = table.drop_columns([shards.ROW])
    out = pa.Table.from_batches([transform.apply(b, settings) for b in body.to_batches()], schema=transform.schema)
    if out.num_rows != table.num_rows:
        raise ValueError(f"{transform.name}: {out.num_rows} output rows for {table.num_rows} input rows")
    return out.append_column(shards.ROW, rows)


class RayEngine:
    """Runs per-record transforms on Ray Data; connects on first use, stops only a Ray it started."""

    def __init__(self, settings: EngineSettings, data_root: str):
        self.settings = settings
        self.data_root = data_root
        self._started_ray = False

    def connect(self) -> None:
        """Join the Ray the settings name, or start a local one (unless this process already has one)."""
        import ray

        if ray.is_initialized():
            return
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a nightly job does not phone home
        if self.settings.address:
            ray.init(address=self.settings.address, logging_level=logging.WARNING)
        else:
            ray.init(num_cpus=self.settings.num_cpus, include_dashboard=False, logging_level=logging.WARNING)
            self._started_ray = True
        import ray.data

        ray.data.DataContext.get_current().enable_progress_bars = False  # the run log gets the stage stats

    def close(self) -> None:
        """Stop the local Ray this engine started (a cluster it joined keeps running)."""
        if self._started_ray:
            import ray

            ray.shutdown()
            self._started_ray = False

    def run(self, con: duckdb.DuckDBPyConnection, transform: RecordTransform, drop: str,
            settings: Any = None) -> pa.Table:
        """Run ``transform`` over ``drop`` on Ray and replace the drop's rows of its table; returns them (with ``drop``)."""
        self.connect()
        fs, root = shards.open_root(self.data_root)
        staging = shards.staging_dir(root, transform, drop)
        try:
            n = shards.export_input(con, transform, drop, fs, f"{staging}/input", self.settings.shard_rows)
            if n:
                self._map(fs, shards.input_files(fs, f"{staging}/input"), f"{staging}/output", transform, settings)
            else:
                fs.create_dir(f"{staging}/output")
            out = shards.read_output(fs, f"{staging}/output", transform, n)
            out = out.append_column("drop", pa.array([drop] * out.num_rows, pa.string()))
            with shards.moved_into_place(fs, f"{staging}/output", f"{root}/{transform.table}/{drop}"):
                replace_drop_rows(con, transform.table, drop, out)
        finally:
            shards.remove(fs, staging)
        return out

    def _map(self, fs, files: list[str], out_dir: str, transform: RecordTransform, settings: Any) -> None:
        import ray.data

        # Ray Data retries a task forever by default; a worker killed again and again (out of memory in the
        # transform, say) must fail the stage instead. Passed through ray_remote_args_fn: a bare max_retries
        # keyword is deprecated in Ray 2.60. Reading a shard keeps Ray's default; it holds one shard.
        retries = partial(dict, max_retries=self.settings.max_retries)
        ds = ray.data.read_parquet(files, filesystem=fs)
        ds = ds.map_batches(apply_with_row, batch_format="pyarrow", batch_size=BATCH_ROWS,
                            fn_kwargs={"transform": transform, "settings": settings}, ray_remote_args_fn=retries)
        ds.write_parquet(out_dir, filesystem=fs)
