"""A per-record stage's Parquet under ``[paths] data_root``: its input shards, its output, and the swap into place.

Only the driver (the process holding the DuckDB connection) calls these; Ray
workers read the input shards and write the output through Ray Data. Paths are
strings on a :class:`pyarrow.fs.FileSystem`, so a local directory and an
object store (``s3://…``) take the same code.

Layout, for stage table ``T`` and drop ``D``::

    <data_root>/T/D/part-*.parquet       the stage's output for the drop, complete or absent
    <data_root>/_staging/T/D-<uuid>/     input shards and output being written (removed after the run)

A transform without a table (the per-record part of a global stage) keeps no
output under ``data_root``: its rows go back to the driver from staging.

Every row carries :data:`ROW`, its position in the stage's input order, so the
output loads into DuckDB in the order the local engine writes, and a missing or
repeated row is caught before anything is replaced.
"""

from __future__ import annotations

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


@contextmanager
def moved_into_place(fs: pafs.FileSystem, complete: str, final: str) -> Iterator[None]:
    """Move the complete output directory ``complete`` to ``final`` for the ``with`` body.

    A previous ``final`` is set aside first and deleted after the body; if the
    body raises (the DuckDB load failed), it is put back, so ``final`` always
    holds one whole run's output, or nothing. On a local disk each move is a
    rename; an object store copies, so there ``final`` can be briefly absent.
    """
    previous = f"{final}.previous-{uuid.uuid4().hex}"
    had_previous = exists(fs, final)
    if had_previous:
        fs.move(final, previous)
    else:
        fs.create_dir(final.rsplit("/", 1)[0])
    fs.move(complete, final)
    try:
        yield
    except BaseException:
        fs.delete_dir(final)
        if had_previous:
            fs.move(previous, final)
        raise
    if had_previous:
        fs.delete_dir(previous)


def remove(fs: pafs.FileSystem, directory: str) -> None:
    """Delete ``directory`` and everything in it, if it exists."""
    if exists(fs, directory):
        fs.delete_dir(directory)
