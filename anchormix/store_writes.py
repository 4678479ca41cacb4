"""Bulk writes to the store: Arrow in, one ``INSERT … SELECT``, inside a transaction that rolls back.

Row-at-a-time ``executemany`` costs about 33× an Arrow insert in DuckDB (10k rows:
1.50 CPU-s against 0.046), and a per-row ``UPDATE`` is worse, so every stage
writes through these helpers. Rows come as a ``pyarrow.Table``, a pandas
DataFrame or a mapping of column name to a sequence; their column names must be
columns of the target table (others keep their defaults).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import pyarrow as pa

_names = (f"_anchormix_rows_{i}" for i in itertools.count())


def as_arrow(rows: Any) -> pa.Table:
    """``rows`` as an Arrow table (a Table, a pandas DataFrame, or a mapping of columns)."""
    if isinstance(rows, pa.Table):
        return rows
    if isinstance(rows, Mapping):
        return pa.table({name: list(values) if not hasattr(values, "__array__") else values
                         for name, values in rows.items()})
    return pa.Table.from_pandas(rows, preserve_index=False)


def settle(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """``con``, with any result an earlier ``execute()`` left unread run to its end (as a new ``execute()`` would).

    DuckDB 2 refuses ``register``, ``sql``, ``from_arrow`` and ``table`` while such a result is pending, and
    ``fetchone()`` leaves one; every use of those on a shared connection goes through here. DuckDB 1 has no
    pending results to settle."""
    complete = getattr(con, "complete", None)
    if complete is not None:
        complete()
    return con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """``BEGIN`` … ``COMMIT``, or ``ROLLBACK`` and re-raise on any error (interrupts too)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, data: pa.Table) -> Iterator[str]:
    """``data`` visible to SQL on ``con`` under a fresh name for the ``with`` body."""
    name = next(_names)
    settle(con).register(name, data)
    try:
        yield name
    finally:
        con.unregister(name)


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: Any) -> int:
    """Append ``rows`` to ``table`` in one ``INSERT … SELECT``; returns how many. No transaction of its own."""
    data = as_arrow(rows)
    if data.num_rows == 0:
        return 0
    columns = ", ".join(f'"{c}"' for c in data.column_names)
    with registered(con, data) as name:
        con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {name}")
    return data.num_rows


def replace_rows(con: duckdb.DuckDBPyConnection, table: str, where: str, params: Sequence[Any], rows: Any) -> int:
    """Delete ``table``'s rows matching ``where`` and insert ``rows``, atomically; returns rows inserted."""
    with transaction(con):
        con.execute(f"DELETE FROM {table} WHERE {where}", list(params))
        return insert_rows(con, table, rows)


def replace_drop_rows(con: duckdb.DuckDBPyConnection, table: str, drop: str, rows: Any) -> int:
    """Replace the rows of ``drop`` in ``table`` with ``rows`` (a re-run replaces, never adds)."""
    return replace_rows(con, table, "drop = ?", [drop], rows)


def update_from(con: duckdb.DuckDBPyConnection, table: str, key: str, rows: Any) -> int:
    """Set ``table``'s columns from ``rows`` where ``rows.key`` matches, in one ``UPDATE … FROM``.

    Every column of ``rows`` other than ``key`` is assigned. Returns the number of rows given.
    """
    data = as_arrow(rows)
    if data.num_rows == 0:
        return 0
    with registered(con, data) as name:
        sets = ", ".join(f'"{c}" = {name}."{c}"' for c in data.column_names if c != key)
        con.execute(f'UPDATE {table} SET {sets} FROM {name} WHERE {table}."{key}" = {name}."{key}"')
    return data.num_rows
