"""Jobs: the nightly curation run (one drop partition) and baseline pinning."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job, in_process_executor

from anchormix.stages.plan import NIGHTLY_ASSETS  # the one declared stage order
from pipelines.partitions import drop_partitions

# In-process: every step opens the same DuckDB file, and loading the embedding
# model once per run beats once per step process on a 2-core machine.
nightly_job = define_asset_job(
    "nightly",
    selection=AssetSelection.assets(*NIGHTLY_ASSETS),
    partitions_def=drop_partitions,
    executor_def=in_process_executor,
    description="Curate one inbox drop end to end: ingest → ... → gates → publish.",
)

pin_baseline_job = define_asset_job(
    "pin_baseline",
    selection=AssetSelection.assets("diversity_baseline"),
    executor_def=in_process_executor,
    description="Pin the human diversity baseline from accepted human records (explicit; never silent).",
)
