"""The Dagster code location: ``dagster dev -m pipelines.definitions``."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from dagster import Definitions, load_asset_checks_from_modules, load_assets_from_modules  # noqa: E402

import assets.diversity  # noqa: E402
import assets.embeddings  # noqa: E402
import assets.dedup  # noqa: E402
import assets.ingest  # noqa: E402
import assets.mix  # noqa: E402
import assets.provenance  # noqa: E402
import assets.publish  # noqa: E402
import assets.quality  # noqa: E402
import assets.semantic_dedup  # noqa: E402
import checks.detector_health  # noqa: E402
import checks.diversity_gates  # noqa: E402
import checks.gx_suites  # noqa: E402
from pipelines.jobs import nightly_job, pin_baseline_job  # noqa: E402
from pipelines.resources import EmbeddingResource, EngineResource, duckdb_resource  # noqa: E402
from pipelines.schedules import nightly_schedule  # noqa: E402
from pipelines.sensors import inbox_sensor  # noqa: E402

ASSET_MODULES = [assets.ingest, assets.dedup, assets.provenance, assets.quality, assets.embeddings,
                 assets.semantic_dedup, assets.diversity, assets.mix, assets.publish]
CHECK_MODULES = [checks.gx_suites, checks.diversity_gates, checks.detector_health]

defs = Definitions(
    assets=load_assets_from_modules(ASSET_MODULES),
    asset_checks=load_asset_checks_from_modules(CHECK_MODULES),
    jobs=[nightly_job, pin_baseline_job],
    schedules=[nightly_schedule],
    sensors=[inbox_sensor],
    resources={"duckdb": duckdb_resource(), "embedding": EmbeddingResource(), "engine": EngineResource()},
)
