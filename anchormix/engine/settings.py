"""``[engine]``: where per-record stages run, in this process or on a Ray cluster.

Kept apart from the engines so loading ``anchormix.toml`` never imports Ray.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from anchormix.settings_base import Int, Section, Str


class EngineSettings(Section):
    """``[engine]``: ``kind`` ("local": the transform runs in this process over DuckDB's record batches;
    "ray": Ray Data maps it over the drop's Parquet shards under ``[paths] data_root``).

    ``address``: ``""`` starts a local Ray with ``num_cpus`` CPUs for the run and stops it after;
    ``"auto"`` joins the cluster this machine belongs to; ``"ray://host:port"`` connects a Ray client.
    ``max_retries``: how often Ray runs a task again after its worker process died (an exception
    raised by a transform is a bug in the data or the code and is not retried). ``shard_rows``: rows
    per input Parquet shard, the unit Ray reads and schedules.
    """

    kind: Literal["local", "ray"] = Field("local", description="local (in process) or ray (Ray Data)")
    address: Str = Field("", description='"" = a local Ray started for the run, "auto", or "ray://host:port"')
    num_cpus: Int = Field(2, ge=1, le=4096, description="CPUs of the local Ray (address = \"\")")
    max_retries: Int = Field(3, ge=0, le=100, description="Ray retries of a task whose worker died")
    shard_rows: Int = Field(10_000, ge=1, le=10_000_000, description="rows per input Parquet shard")

    @field_validator("address")
    @classmethod
    def _ray_address(cls, address: str) -> str:
        # Checked here, not by ray.init at the first per-record stage hours into a run.
        if address in ("", "auto") or (address.startswith("ray://") and len(address) > len("ray://")):
            return address
        raise ValueError(f'must be "" (a local Ray for the run), "auto" or "ray://<host>:<port>", got {address!r}')
