"""Parquet inbox files, one row group at a time.

A Parquet file has no lines to re-sync at, but its row groups decode
independently: a corrupt group loses only its own rows (counted as unread) and
the groups after it still load. Page checksums are verified, and each group's
declared uncompressed size is checked against ``ingest.max_decompressed_bytes``
before the group is decoded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

from anchormix.ingest.raw_rows import RawRow, Unread
from anchormix.ingest.safe_text import clip
from anchormix.records import RECORD_COLUMNS

if TYPE_CHECKING:
    from anchormix.readers import IngestSettings


def read_parquet(handle: BinaryIO, name: str, settings: IngestSettings, unread: Unread) -> Iterator[RawRow]:
    """Rows of a Parquet file, one row group at a time.

    A row group that fails to decode becomes one ``corrupt_row_group`` row and
    its rows count as unread; reading goes on with the next group. Row groups
    whose declared uncompressed size would pass ``max_decompressed_bytes`` are
    not read.
    """
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(handle, page_checksum_verification=True)
        meta = parquet.metadata
        wanted = [c for c in parquet.schema_arrow.names if c in RECORD_COLUMNS]
    except Exception as exc:  # pyarrow raises several types for corrupt files
        lost = os.fstat(handle.fileno()).st_size
        unread.bytes += lost
        yield 0, None, f"unreadable_file: {type(exc).__name__}: {clip(str(exc))}; {lost} bytes unread (all)"
        return
    number, budget = 0, settings.max_decompressed_bytes
    for group in range(meta.num_row_groups):
        info = meta.row_group(group)
        budget -= sum(info.column(j).total_uncompressed_size for j in range(info.num_columns)
                      if info.column(j).path_in_schema.split(".")[0] in wanted)
        if budget < 0:
            rest = sum(max(0, meta.row_group(g).num_rows) for g in range(group, meta.num_row_groups))
            unread.rows += rest
            yield number + 1, None, (f"decompressed_size_limit: row groups {group}-{meta.num_row_groups - 1} "
                                     f"({rest} rows) would pass ingest.max_decompressed_bytes "
                                     f"({settings.max_decompressed_bytes}); not read")
            return
        done = 0
        try:
            for batch in parquet.iter_batches(batch_size=1024, row_groups=[group], columns=wanted):
                for row, error in _batch_rows(batch):
                    done += 1
                    yield number + done, row, error
        except Exception as exc:
            lost = max(0, info.num_rows - done)
            unread.rows += lost
            yield number + done + 1, None, (f"corrupt_row_group: row group {group}, {lost} rows from row "
                                            f"{number + done + 1} unread ({type(exc).__name__}: {clip(str(exc))})")
        number += max(info.num_rows, done)


def _batch_rows(batch) -> Iterator[tuple[dict | None, str | None]]:
    try:
        rows = batch.to_pylist()
    except Exception:  # one bad value: find it row by row
        rows = None
    if rows is not None:
        yield from ((row, None) for row in rows)
        return
    for k in range(batch.num_rows):
        try:
            row, error = batch.slice(k, 1).to_pylist()[0], None
        except Exception as exc:
            row, error = None, f"bad_value: {type(exc).__name__}: {clip(str(exc))}"
        yield row, error
