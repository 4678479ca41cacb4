"""``[engine]``: where per-record stages run, in this process or on a Ray cluster.

Kept apart from the engines so loading ``anchormix.toml`` never imports Ray.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from anchormix.settings_base import Int, Section, Str


_HOST_PORT = re.compile(r"^[A-Za-z0-9.-]+:[0-9]{1,5}$")


class EngineSettings(Section):
    """``[engine]``: ``kind`` ("local": the transform runs in this process over DuckDB's record batches;
    "ray": Ray Data maps it over the drop's Parquet shards under ``[paths] data_root``).

    ``address``: ``""`` starts a local Ray with ``num_cpus`` CPUs for the run and stops it after;
    ``"auto"`` joins the cluster this machine is a node of (``ray start --address=…`` ran here, or
    ``$RAY_ADDRESS``); ``"host:port"`` joins the cluster whose GCS is there, from one of its nodes.
    The Ray Client (``ray://``) is refused: Ray Data does not run over it in Ray 2.60 (its first
    dataset fails in ``materialize`` with "'Worker' object has no attribute 'core_worker'").
    ``max_retries``: how often Ray runs a task again after its worker process died (an exception
    raised by a transform is a bug in the data or the code and is not retried). ``shard_rows``: rows
    per input Parquet shard, the unit Ray reads and schedules. ``actors``: the actor pool of a
    stage that loads a model (embeddings), one model load per actor; 0 = one per GPU of the cluster
    when it has GPUs, else one per CPU; never more than the cluster's CPUs less one (an actor holds its
    CPU for the stage, and reading and writing the shards need one) nor than the stage has batches.
    """

    kind: Literal["local", "ray"] = Field("local", description="local (in process) or ray (Ray Data)")
    address: Str = Field("", description='"" = a local Ray started for the run, "auto", or the GCS "host:port"')
    num_cpus: Int = Field(2, ge=1, le=4096, description="CPUs of the local Ray (address = \"\")")
    max_retries: Int = Field(3, ge=0, le=100, description="Ray retries of a task whose worker died")
    shard_rows: Int = Field(10_000, ge=1, le=10_000_000, description="rows per input Parquet shard")
    actors: Int = Field(0, ge=0, le=4096, description="model actors for embeddings (0 = one per GPU, else per CPU but one)")

    @field_validator("address")
    @classmethod
    def _ray_address(cls, address: str) -> str:
        # Checked here, not by ray.init at the first per-record stage hours into a run.
        if address.startswith("ray://"):
            raise ValueError("the Ray Client (ray://) cannot run Ray Data in Ray 2.60; make this machine a node "
                             "of the cluster (ray start --address=<head>:6379) and use \"auto\", or give the "
                             f"head's GCS address <host>:6379, got {address!r}")
        if address in ("", "auto") or _HOST_PORT.match(address):
            return address
        raise ValueError(f'must be "" (a local Ray for the run), "auto" or the GCS address <host>:<port>, '
                         f"got {address!r}")
