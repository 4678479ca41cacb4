"""The Ray engine: a per-record transform mapped by Ray Data over the drop's Parquet shards.

The driver exports the transform's input rows from DuckDB to Parquet under
``[paths] data_root``; Ray Data reads the shards, maps the transform's batch
function over them on the cluster's workers and writes the output as Parquet
into a new run directory beside the drop's committed output. The driver checks
that output (one row per input row), commits it (:func:`shards.committed`: a
marker names it, no directory is moved, which object stores cannot do) and
loads it into DuckDB in one transaction. Workers never
open the DuckDB file, so a cluster needs only ``data_root`` on shared storage.

A transform that loads a model (``RecordTransform.load``: embeddings) runs on
an actor pool instead of tasks: each actor loads the model once as it starts
and maps batch after batch, ``[engine] actors`` of them (at most the cluster's
CPUs less one, which reading and writing need), each holding one GPU when the
cluster has GPUs and the transform can use one, and one CPU.

A transform without a table (the per-record part of a global stage: MinHash
signatures, vectors) keeps no Parquet: the driver gets the checked rows from
staging and stores what its global step keeps.

A worker process that dies is a system failure: Ray runs its task again, up to
``[engine] max_retries`` times (an actor is restarted as often). An exception
raised by the transform is not retried. Either way a failed stage changes
neither its Parquet output nor its DuckDB rows.
"""

from __future__ import annotations

import logging
import math
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


class TransformActor:
    """A Ray Data actor for a transform with ``load``: the model is loaded once, as the actor starts.

    ``threads`` is the actor's CPU count: the project's thread budget in this
    process (torch would otherwise take every core of the node per actor).
    """

    def __init__(self, transform: RecordTransform, settings: Any, threads: int):
        os.environ["ANCHORMIX_THREADS"] = str(max(1, threads))
        from anchormix.threads import configure_threads

        configure_threads()
        self.transform, self.settings = transform, settings
        transform.load(settings)
        configure_threads()  # the model's runtime (torch) was loaded after the first call

    def __call__(self, table: pa.Table) -> pa.Table:
        return apply_with_row(table, self.transform, self.settings)


class RayEngine:
    """Runs per-record transforms on Ray Data; connects on first use, stops only a Ray it started."""

    kind = "ray"

    def __init__(self, settings: EngineSettings, data_root: str, filesystem=None):
        self.settings = settings
        self.data_root = data_root
        self._filesystem = filesystem
        self._started_ray = False

    def filesystem(self):
        """(filesystem, base path) of ``data_root``: from its URI, or the ``filesystem`` given (a
        :class:`pyarrow.fs.FileSystem` rooted at ``data_root``, such as an fsspec store wrapped by pyarrow)."""
        if self._filesystem is not None:
            return self._filesystem, self.data_root.rstrip("/")
        return shards.open_root(self.data_root)

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
        """Run ``transform`` over ``drop`` on Ray and replace the drop's rows of its table; returns them (with ``drop``).

        A transform without a table stores nothing: its rows are only returned."""
        fs, root = self.filesystem()
        staging = shards.staging_dir(root, transform, drop)
        if transform.table is None:
            out_dir = f"{staging}/output"
        else:
            out_dir = shards.new_run_dir(root, transform.table, drop)
        try:
            n = shards.export_input(con, transform, drop, fs, f"{staging}/input", self.settings.shard_rows, settings)
            if n:
                self.connect()
                self._map(fs, shards.input_files(fs, f"{staging}/input"), out_dir, transform, settings, n)
            else:
                fs.create_dir(out_dir)
            out = shards.read_output(fs, out_dir, transform, n)
            out = out.append_column("drop", pa.array([drop] * out.num_rows, pa.string()))
            if transform.table is not None:
                with shards.committed(fs, f"{root}/{transform.table}/{drop}", out_dir, n):
                    replace_drop_rows(con, transform.table, drop, out)
        except BaseException:
            # A run that failed (Ray, the check, the load) leaves nothing.
            shards.discard_run(fs, out_dir) if transform.table is not None else shards.remove(fs, out_dir)
            raise
        finally:
            shards.remove(fs, staging)
        return out

    def _map(self, fs, files: list[str], out_dir: str, transform: RecordTransform, settings: Any, n: int) -> None:
        import ray.data

        ds = ray.data.read_parquet(files, filesystem=fs)
        if transform.load is None:
            # Ray Data retries a task forever by default; a worker killed again and again (out of memory in the
            # transform, say) must fail the stage instead. Passed through ray_remote_args_fn: a bare max_retries
            # keyword is deprecated in Ray 2.60. Reading a shard keeps Ray's default; it holds one shard.
            retries = partial(dict, max_retries=self.settings.max_retries)
            ds = ds.map_batches(apply_with_row, batch_format="pyarrow", batch_size=BATCH_ROWS,
                                fn_kwargs={"transform": transform, "settings": settings}, ray_remote_args_fn=retries)
        else:
            ds = self._map_on_actors(ds, transform, settings, n)
        ds.write_parquet(out_dir, filesystem=fs)

    def actor_pool(self, transform: RecordTransform, settings: Any, n: int) -> dict:
        """How a model-loading transform runs on the cluster, for ``n`` input rows: ``size`` actors of ``batch_rows``
        rows a batch, ``gpus`` (0 or 1) and ``cpus`` each, with the ``settings`` each actor loads.

        An actor holds its CPU for the whole stage, and reading the shards and writing the output are tasks
        that need one too: the pool leaves one of the cluster's CPUs to them (with every CPU held by an actor,
        the dataset waits forever for a read task), so a 2-CPU local Ray runs one actor.
        """
        import ray

        batch = min(BATCH_ROWS, self.settings.shard_rows)
        resources = ray.cluster_resources()
        cpus = int(resources.get("CPU", 0))
        gpu_settings = transform.on_gpu(settings) if transform.on_gpu is not None else None
        on_gpu = resources.get("GPU", 0) >= 1 and gpu_settings is not None
        free = max(1, cpus - 1)
        size = self.settings.actors or (int(resources.get("GPU", 0)) if on_gpu else free)
        # No more actors than batches: each one loads the model, which an idle actor pays for nothing.
        size = max(1, min(size, free, math.ceil(n / batch)))
        return {"size": size, "batch_rows": batch, "gpus": 1 if on_gpu else 0, "cpus": 1 if cpus >= 2 else 0,
                "settings": gpu_settings if on_gpu else settings}

    def _map_on_actors(self, ds, transform: RecordTransform, settings: Any, n: int):
        import ray.data

        pool = self.actor_pool(transform, settings, n)
        log.info("%s: %d actors (%d GPU, %d CPU each) for %d rows", transform.name, pool["size"], pool["gpus"],
                 pool["cpus"], n)
        # Ray Data restarts a dead actor and retries its task forever by default; bounded like tasks are.
        retries = partial(dict, max_restarts=self.settings.max_retries, max_task_retries=self.settings.max_retries)
        return ds.map_batches(
            TransformActor, batch_format="pyarrow", batch_size=pool["batch_rows"],
            compute=ray.data.ActorPoolStrategy(size=pool["size"]),
            fn_constructor_kwargs={"transform": transform, "settings": pool["settings"], "threads": max(1, pool["cpus"])},
            num_cpus=pool["cpus"], num_gpus=pool["gpus"] or None, ray_remote_args_fn=retries)
