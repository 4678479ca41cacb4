"""Resources: the DuckDB store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from dagster import ConfigurableResource
from dagster_duckdb import DuckDBResource

from anchormix.embed import EmbeddingSettings
from anchormix.store import connect_store, init_schema
from pipelines.settings import SETTINGS

# Steps that touch DuckDB share this pool; dagster.yaml limits it to one slot
# because DuckDB allows one writing process per file.
DUCKDB_POOL = "anchormix_duckdb"


def duckdb_resource() -> DuckDBResource:
    """The store configured in ``[paths] store``."""
    SETTINGS.paths.store.parent.mkdir(parents=True, exist_ok=True)
    return DuckDBResource(database=str(SETTINGS.paths.store))


@contextmanager
def open_store(resource: DuckDBResource) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection with the schema in place, waiting while another process holds the store."""
    con = connect_store(resource.database)
    try:
        init_schema(con)
        yield con
    finally:
        con.close()


class EmbeddingResource(ConfigurableResource):
    """The sentence-transformers model every vector-using step shares.

    A resource rather than per-asset config, so one run never mixes two models;
    override it for a run in the Launchpad under ``resources.embedding.config``.
    """

    model: str = SETTINGS.embedding.model or ""
    max_seq_length: int = SETTINGS.embedding.max_seq_length
    batch_size: int = SETTINGS.embedding.batch_size
    quantize: bool = SETTINGS.embedding.quantize

    def settings(self) -> EmbeddingSettings:
        raw = {**SETTINGS.section("embedding"), "model": self.model, "max_seq_length": self.max_seq_length,
               "batch_size": self.batch_size, "quantize": self.quantize}
        return EmbeddingSettings.from_mapping(raw)
