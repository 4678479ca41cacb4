"""A per-record stage's Parquet under ``[paths] data_root``: its input shards, its output, and the swap into place.

Only the driver (the process holding the DuckDB connection) calls these; Ray
workers read the input shards and write the output through Ray Data. Paths are
strings on a :class:`pyarrow.fs.FileSystem`, so a local directory and an
object store (``s3://…``) take the same code.

Layout, for stage table ``T`` and drop ``D``::

    <data_root>/T/D/_COMMITTED           names the run directory that is the drop's output
    <data_root>/T/D/run-<uuid>/part-*    a run's output: the committed one, or one being written
    <data_root>/_staging/T/D-<uuid>/     input shards (removed after the run)

Object stores cannot rename a directory, so output is never moved: a run
writes its own directory beside the committed one, and committing rewrites the
marker, one small object whose PUT is atomic (:func:`committed`). Readers list
:func:`committed_files`, so they never see a partial or failed run.

A transform without a table (the per-record part of a global stage) keeps no
output under ``data_root``: its rows go back to the driver from staging.

Every row carries :data:`ROW`, its position in the stage's input order, so the
output loads into DuckDB in the order the local engine writes, and a missing or
repeated row is caught before anything is replaced.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from anchormix.stages.record_batches import RecordTransform, input_reader

ROW = "__anchormix_row"
COMMITTED = "_COMMITTED"


def open_root(data_root: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem and base path of ``data_root`` (a local directory or a URI pyarrow knows)."""
    fs, root = pafs.FileSystem.from_uri(data_root)
    return fs, root.rstrip("/")


def staging_dir(root: str, transform: RecordTransform, drop: str) -> str:
    """A fresh directory for one run of ``transform`` on ``drop`` (two runs never share one)."""
    return f"{root}/_staging/{transform.label}/{drop}-{uuid.uuid4().hex}"


def export_input(con: duckdb.DuckDBPyConnection, transform: RecordTransform, drop: str, fs: pafs.FileSystem,
                 directory: str, shard_rows: int, settings=None) -> int:
    """Write the transform's input rows of ``drop`` as Parquet shards of ``shard_rows`` rows; returns the row count.

    Streams DuckDB's record batches, so the driver holds one batch at a time. An
    empty drop writes no shard.
    """
    fs.create_dir(directory)
    reader = input_reader(con, transform, drop, settings=settings)
    schema = reader.schema.append(pa.field(ROW, pa.int64()))
    writer, in_shard, shards, n = None, 0, 0, 0
    try:
        for batch in reader:
            start = 0
            while start < batch.num_rows:
                if writer is None:
                    writer = pq.ParquetWriter(f"{directory}/part-{shards:05d}.parquet", schema, filesystem=fs)
                    shards += 1
                take = min(batch.num_rows - start, shard_rows - in_shard)
                piece = batch.slice(start, take)
                writer.write_batch(pa.RecordBatch.from_arrays(
                    [*piece.columns, pa.array(np.arange(n, n + take), pa.int64())], schema=schema))
                start, in_shard, n = start + take, in_shard + take, n + take
                if in_shard == shard_rows:
                    writer.close()
                    writer, in_shard = None, 0
    finally:
        if writer is not None:
            writer.close()
    return n


def input_files(fs: pafs.FileSystem, directory: str) -> list[str]:
    """The shards :func:`export_input` wrote, in order."""
    return sorted(info.path for info in fs.get_file_info(pafs.FileSelector(directory)) if info.is_file)


def read_output(fs: pafs.FileSystem, directory: str, transform: RecordTransform, n_input: int) -> pa.Table:
    """The rows written under ``directory``, in input order, checked to be exactly one per input row.

    Raises RuntimeError when a row is missing or repeated: such output is never loaded.
    """
    files = [info.path for info in fs.get_file_info(pafs.FileSelector(directory, allow_not_found=True))
             if info.is_file and info.path.endswith(".parquet")]
    if not files:
        table = transform.schema.empty_table().append_column(ROW, pa.array([], pa.int64()))
    else:
        table = pa.concat_tables([pq.read_table(f, filesystem=fs) for f in files], promote_options="permissive")
    table = table.sort_by(ROW)
    if not np.array_equal(table.column(ROW).to_numpy(), np.arange(n_input)):
        raise RuntimeError(f"{transform.name}: the output under {directory} has {table.num_rows} rows for "
                           f"{n_input} input rows (or a row twice); nothing was loaded")
    return table.select(transform.schema.names).cast(transform.schema)


def exists(fs: pafs.FileSystem, path: str) -> bool:
    """Whether ``path`` exists on ``fs``."""
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def new_run_dir(root: str, table: str, drop: str) -> str:
    """A fresh directory for one run's output of ``table`` for ``drop``, beside the committed one."""
    return f"{root}/{table}/{drop}/run-{uuid.uuid4().hex}"


def _read_marker(fs: pafs.FileSystem, drop_dir: str) -> bytes | None:
    path = f"{drop_dir}/{COMMITTED}"
    if not exists(fs, path):
        return None
    with fs.open_input_stream(path) as f:
        return f.read()


def _write_marker(fs: pafs.FileSystem, drop_dir: str, body: bytes) -> None:
    path = f"{drop_dir}/{COMMITTED}"
    if isinstance(fs, pafs.LocalFileSystem):
        # A local write is not atomic: write beside it and rename, so a crash leaves the old marker or the new.
        tmp = f"{path}.{uuid.uuid4().hex}.tmp"
        with fs.open_output_stream(tmp) as f:
            f.write(body)
        fs.move(tmp, path)
    else:  # an object store's PUT of one object is atomic: readers see the old marker or the new
        with fs.open_output_stream(path) as f:
            f.write(body)


def committed_run(fs: pafs.FileSystem, drop_dir: str) -> str | None:
    """The run directory the drop's ``_COMMITTED`` marker names (None before the first commit)."""
    body = _read_marker(fs, drop_dir)
    return None if body is None else f"{drop_dir}/{json.loads(body)['run']}"


def committed_files(fs: pafs.FileSystem, drop_dir: str) -> list[str]:
    """The Parquet files of the drop's committed output, in order: what a reader of ``data_root`` reads.

    A run being written, or one that failed, sits beside it and is never listed."""
    run = committed_run(fs, drop_dir)
    if run is None:
        return []
    return sorted(info.path for info in fs.get_file_info(pafs.FileSelector(run, allow_not_found=True))
                  if info.is_file and info.path.endswith(".parquet"))


@contextmanager
def committed(fs: pafs.FileSystem, drop_dir: str, run: str, rows: int) -> Iterator[None]:
    """Make the complete output ``run`` the drop's committed output for the ``with`` body.

    No directory is moved, which object stores cannot do in one step: the run
    is written in place under ``drop_dir`` and the ``_COMMITTED`` marker, one
    small object, is rewritten to name it. If the body raises (the DuckDB load
    failed), the marker is put back as it was and ``run`` deleted; otherwise the
    previous run, and anything a crashed run left, is deleted after it. Either
    way the marker names one whole run's output, or none.
    """
    previous = _read_marker(fs, drop_dir)
    _write_marker(fs, drop_dir, json.dumps({"run": run.rsplit("/", 1)[1], "rows": rows}).encode())
    try:
        yield
    except BaseException:
        if previous is None:
            fs.delete_file(f"{drop_dir}/{COMMITTED}")
        else:
            _write_marker(fs, drop_dir, previous)
        discard_run(fs, run)
        raise
    for info in fs.get_file_info(pafs.FileSelector(drop_dir)):
        if info.path == run or info.base_name == COMMITTED:
            continue
        if info.type == pafs.FileType.Directory:
            fs.delete_dir(info.path)
        else:  # earlier layouts' shards, and a crashed marker write's temp file
            fs.delete_file(info.path)


def discard_run(fs: pafs.FileSystem, run: str) -> None:
    """Delete a run that was not committed; a drop directory it leaves empty (no commit yet) goes too."""
    remove(fs, run)
    drop_dir = run.rsplit("/", 1)[0]
    if exists(fs, drop_dir) and not fs.get_file_info(pafs.FileSelector(drop_dir)):
        fs.delete_dir(drop_dir)


def remove(fs: pafs.FileSystem, directory: str) -> None:
    """Delete ``directory`` and everything in it, if it exists."""
    if exists(fs, directory):
        fs.delete_dir(directory)
