"""Resources: the DuckDB store, the embedding model and the engine per-record stages run on.

``EmbeddingResource`` and ``EngineResource`` are generated from the ``[embedding]``
and ``[engine]`` section models (types and descriptions from the model, defaults
from the loaded file) on first use, when the Definitions are built; their values
are validated by those models.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import duckdb
from dagster import ConfigurableResource, InitResourceContext
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr, create_model

from anchormix.embed import EmbeddingSettings
from anchormix.engine import Engine, EngineSettings, make_engine
from anchormix.settings_base import revalidated
from anchormix.store import connect_store, init_schema
from pipelines.settings import launchpad_fields
from pipelines.settings import settings as project_settings

# Steps that touch DuckDB share this pool; dagster.yaml limits it to one slot
# because DuckDB allows one writing process per file.
DUCKDB_POOL = "anchormix_duckdb"


def duckdb_resource() -> DuckDBResource:
    """The store configured in ``[paths] store``."""
    store = project_settings().paths.store
    store.parent.mkdir(parents=True, exist_ok=True)
    return DuckDBResource(database=str(store))


@contextmanager
def open_store(resource: DuckDBResource) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection with the schema in place, waiting while another process holds the store."""
    con = connect_store(resource.database)
    try:
        init_schema(con)
        yield con
    finally:
        con.close()


# Launchpad-visible embedding keys (cache and threads stay in the file).
EMBEDDING_FIELDS = ("model", "max_seq_length", "batch_size", "quantize", "device")


class _EmbeddingResourceBase(ConfigurableResource):
    """The sentence-transformers model every vector-using step shares.

    A resource rather than per-asset config, so one run never mixes two models;
    override it for a run in the Launchpad under ``resources.embedding.config``.
    """

    def settings(self) -> EmbeddingSettings:
        """The [embedding] section with this run's values, validated like the file."""
        return revalidated(project_settings().embedding, {k: getattr(self, k) for k in EMBEDDING_FIELDS},
                           "embedding")


@cache
def embedding_resource_class() -> type[ConfigurableResource]:
    """``EmbeddingResource``, with defaults from the loaded file."""
    return create_model("EmbeddingResource", __base__=_EmbeddingResourceBase, __module__=__name__,
                        __doc__=_EmbeddingResourceBase.__doc__,
                        **launchpad_fields(project_settings().embedding, EMBEDDING_FIELDS))


# Launchpad-visible engine keys (retries and shard size stay in the file).
ENGINE_FIELDS = ("kind", "address", "num_cpus")


class _EngineResourceBase(ConfigurableResource):
    """Where per-record work (normalize, quality, MinHash signatures, embeddings) runs: in process, or on Ray Data
    ([engine] in anchormix.toml).

    A Ray engine connects on the first stage that needs it, so a run that
    selects only global stages starts no Ray; a local Ray it started stops when
    the run's resources are torn down. Override it for a run in the Launchpad
    under ``resources.engine.config``.
    """

    _engine: Engine | None = PrivateAttr(default=None)

    def settings(self) -> EngineSettings:
        """The [engine] section with this run's values, validated like the file."""
        return revalidated(project_settings().engine, {k: getattr(self, k) for k in ENGINE_FIELDS}, "engine")

    def engine(self) -> Engine:
        """The run's engine (made on first use, kept for the run's other stages)."""
        if self._engine is None:
            self._engine = make_engine(self.settings(), project_settings().paths.data_root)
        return self._engine

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


@cache
def engine_resource_class() -> type[ConfigurableResource]:
    """``EngineResource``, with defaults from the loaded file."""
    return create_model("EngineResource", __base__=_EngineResourceBase, __module__=__name__,
                        __doc__=_EngineResourceBase.__doc__,
                        **launchpad_fields(project_settings().engine, ENGINE_FIELDS))


def __getattr__(name: str) -> Any:
    if name == "EmbeddingResource":
        return embedding_resource_class()
    if name == "EngineResource":
        return engine_resource_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
