"""Resources: the DuckDB store and the embedding model.

``EmbeddingResource`` is generated from the ``[embedding]`` section model (types and
descriptions from the model, defaults from the loaded file) on first use, when
the Definitions are built; its values are validated by that model.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import duckdb
from dagster import ConfigurableResource
from dagster_duckdb import DuckDBResource
from pydantic import create_model

from anchormix.embed import EmbeddingSettings
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


def __getattr__(name: str) -> Any:
    if name == "EmbeddingResource":
        return embedding_resource_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
