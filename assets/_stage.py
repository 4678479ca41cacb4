"""The one place nightly assets get their shared wiring: partitions, pool, owners, upstream, stats.

``stage_asset(name, ...)`` is ``@asset`` with the defaults every nightly stage
shares and ``deps`` taken from the declared stage order
(:data:`anchormix.stages.plan.NIGHTLY`). ``staged(...)`` runs the stage on the
run's drop with uniform statistics (rows in/out, CPU-s, wall-s, peak RSS),
logged to the run and returned as numeric metadata the UI plots per partition.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import AssetExecutionContext, asset
from dagster_duckdb import DuckDBResource

from anchormix.stages.plan import StageContext, run_stage, stage, upstream
from assets._meta import OWNERS
from pipelines.partitions import drop_partitions
from pipelines.resources import DUCKDB_POOL, open_store
from pipelines.settings import settings


def stage_asset(name: str, *, group: str = "curation", kinds: set[str], extra_deps=(), **kwargs):
    """``@asset`` for the nightly stage ``name``, upstream of it the stage before it in the declared order."""
    return asset(name=name, group_name=group, partitions_def=drop_partitions, deps=[*upstream(name), *extra_deps],
                 kinds=kinds, owners=OWNERS, code_version="1", pool=DUCKDB_POOL, **kwargs)


@contextmanager
def staged(context: AssetExecutionContext, duckdb: DuckDBResource, name: str, project=None,
           engine=None) -> Iterator[tuple]:
    """Run stage ``name`` on this partition; yields ``(con, summary, stats metadata)`` with the store still open.

    ``project``: the settings with this run's overrides (default: the project's). ``engine``: the run's
    ``EngineResource``, for per-record stages (None: in this process).
    """
    with open_store(duckdb) as con:
        ctx = StageContext(con, context.partition_key, project or settings(),
                           engine=engine.engine() if engine is not None else None)
        summary, stats = run_stage(stage(name), ctx, context.log)
        yield con, summary, stats.as_metadata()


def with_resources(embedding=None, **sections):
    """The project settings with a run's resource and Launchpad overrides (validated section objects)."""
    update = {k: v for k, v in sections.items() if v is not None}
    if embedding is not None:
        update["embedding"] = embedding.settings()
    return settings().model_copy(update=update) if update else settings()
