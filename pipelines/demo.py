"""``make demo``: build the demo inbox and run two nights on the real Dagster instance.

Night 1 publishes a mix. Night 2 is a flood of a 5th recursive generation of the
generator, run with the *replace* policy (as a team might, for one run, in the
Launchpad): the gates block it and the previous generation stays published.
The runs land in $DAGSTER_HOME, so `make ui` shows them afterwards.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from dagster import AssetKey, DagsterInstance  # noqa: E402

from anchormix.report import drop_summary, format_summary  # noqa: E402
from anchormix.stages.ingest import list_drops  # noqa: E402
from pipelines.definitions import defs  # noqa: E402
from pipelines.jobs import NIGHTLY_ASSETS  # noqa: E402
from pipelines.resources import duckdb_resource, open_store  # noqa: E402
from pipelines.settings import settings  # noqa: E402

PRE_BASELINE = NIGHTLY_ASSETS[: NIGHTLY_ASSETS.index("semantic_dedup") + 1]
# Night 2 as a team might run it once from the Launchpad, trusting tonight's generator output: replace,
# no human floor and no synthetic cap. The ratio policy no longer stands in the way; the diversity gate must.
REPLACE_RUN_CONFIG = {"ops": {"mix_candidate": {"config": {"mode": "replace", "human_floor": 0.0,
                                                          "synthetic_cap": 1.0}}}}


def ensure_inbox() -> list[str]:
    """Build the demo inbox unless one is already there."""
    paths = settings().paths
    drops = list_drops(paths.inbox)
    if drops and paths.registry.exists():
        from anchormix.demo.inbox import ensure_publisher_key

        ensure_publisher_key(paths.models.parent / "keys")  # an inbox built before generations were signed
        print(f"using the existing demo inbox {paths.inbox} ({', '.join(drops)})")
        return drops
    from anchormix.demo.inbox import build_demo_inbox

    built = build_demo_inbox(paths.inbox, paths.registry, paths.models.parent / "keys",
                             max_text_bytes=settings().ingest.max_text_bytes)
    print(f"built the demo inbox {built.inbox}: " + ", ".join(f"{k} {v}" for k, v in built.counts.items()))
    return built.drops


def run_nightly(instance: DagsterInstance, drop: str, run_config: dict | None = None, selection=None) -> bool:
    """Run the nightly job for one drop; returns whether the run succeeded."""
    job = defs.resolve_job_def("nightly")
    kwargs = {}
    if selection is not None:
        kwargs["asset_selection"] = [AssetKey(k) for k in selection]
    result = job.execute_in_process(partition_key=drop, instance=instance, run_config=run_config or {},
                                    raise_on_error=False, tags={"anchormix/trigger": "make demo"}, **kwargs)
    return result.success


def main() -> int:
    drops = ensure_inbox()
    instance = DagsterInstance.get()
    first = drops[0]
    baseline = settings().paths.baseline
    if not (baseline.exists() and any(baseline.iterdir())):
        print(f"night 1 ({first}): curating up to embeddings, then pinning the human baseline")
        run_nightly(instance, first, selection=PRE_BASELINE)
        pinned = defs.resolve_job_def("pin_baseline").execute_in_process(instance=instance, raise_on_error=False)
        if not pinned.success:
            print("pinning the baseline failed; see the run in `make ui`", file=sys.stderr)
            return 1
    print(f"night 1 ({first}): nightly run")
    run_nightly(instance, first)
    for drop in drops[1:]:
        print(f"night 2 ({drop}): nightly run with the replace policy on a 5th-generation flood")
        run_nightly(instance, drop, run_config=REPLACE_RUN_CONFIG)
    print()
    published_first = False
    with open_store(duckdb_resource()) as con:
        for drop in drops:
            summary = drop_summary(con, drop)
            print(format_summary(summary))
            if drop == first:
                published_first = bool(summary.get("published"))
    print()
    print("Open the UI with `make ui` (http://127.0.0.1:3000): Assets > mix_candidate > Checks shows why night 2 "
          "was blocked.")
    return 0 if published_first else 1


if __name__ == "__main__":
    sys.exit(main())
