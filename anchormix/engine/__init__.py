"""Where per-record transforms run: in this process (``local``) or on Ray Data over Parquet shards (``ray``).

A stage's :class:`~anchormix.stages.record_batches.RecordTransform` says what it
computes; the engine, chosen by ``[engine] kind``, decides where. Both replace
the drop's rows of the stage's table in one DuckDB transaction and return them,
so a stage's summary and every later stage are the same on either engine.
Importing this package does not import Ray.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from anchormix.engine.local import LocalEngine
from anchormix.engine.settings import EngineSettings
from anchormix.stages.record_batches import RecordTransform

__all__ = ["Engine", "EngineSettings", "LocalEngine", "make_engine", "open_engine", "run_transform"]


class Engine(Protocol):
    """What a stage needs of an engine (``kind``: "local" or "ray")."""

    kind: str

    def run(self, con: duckdb.DuckDBPyConnection, transform: RecordTransform, drop: str,
            settings: Any = None) -> pa.Table: ...

    def close(self) -> None: ...


def make_engine(settings: EngineSettings, data_root: str) -> Engine:
    """The engine ``[engine]`` names; a Ray engine connects on its first stage, so making one is cheap."""
    if settings.kind == "local":
        return LocalEngine()
    from anchormix.engine.ray_engine import RayEngine

    return RayEngine(settings, data_root)


@contextmanager
def open_engine(settings: EngineSettings, data_root: str) -> Iterator[Engine]:
    """:func:`make_engine` for the ``with`` body, closed after it (a local Ray it started is stopped)."""
    engine = make_engine(settings, data_root)
    try:
        yield engine
    finally:
        engine.close()


def run_transform(con: duckdb.DuckDBPyConnection, transform: RecordTransform, drop: str, settings: Any = None,
                  engine: Engine | None = None) -> pa.Table:
    """Run ``transform`` over ``drop`` on ``engine`` (None: in this process); returns the rows written."""
    return (engine or LocalEngine()).run(con, transform, drop, settings)
