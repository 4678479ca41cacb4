"""One large drop through the nightly Dagster job, timed: wall, CPU and peak RSS of the in-process run.

Real text only (the corpus of ``bench/scale.py``: installed packages' and the standard library's docstrings,
half a signed archive and half an unsigned crawl, plus OUTFOX's machine essays as a declared generator). A
first drop of 5,000 docstrings is curated and pins the diversity baseline, as a project's first night would;
then the drop of ``--size`` docstrings runs through the whole nightly job (every stage, the blocking checks
and publish) on a Dagster instance configured by the project's ``dagster.yaml``. Needs the static embedder
(``make fast-embedder``) unless ``--embedder minilm``.

    .venv/bin/python bench/dagster_scale.py [--size 100000] [--embedder fast|minilm]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--embedder", choices=("fast", "minilm"), default="fast")
    args = parser.parse_args(argv)

    import scale

    texts, machine = scale.corpus()
    root, _, private = scale.fresh_store(args.embedder)
    first, big = "2026-11-20", "2026-11-21"
    scale.write_drop(root, first, texts[:5000], machine[:300], private, 0)
    n = scale.write_drop(root, big, texts[5000:5000 + args.size], machine[300:], private, 5000)
    # The Dagster definitions read the project's settings and instance from these at import.
    os.environ["ANCHORMIX_CONFIG"] = str(root / "anchormix.toml")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        from dagster import DagsterInstance

        from pipelines.definitions import defs
        from pipelines.demo import PRE_BASELINE, run_nightly

        instance = DagsterInstance.get()
        assert run_nightly(instance, first, selection=PRE_BASELINE)
        assert defs.resolve_job_def("pin_baseline").execute_in_process(instance=instance).success
        assert run_nightly(instance, first)
        before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        ok = run_nightly(instance, big)
        after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - started
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        print(f"{n:,} records ({args.size:,} docstrings + machine essays) through the nightly job: "
              f"success={ok}, wall {wall:.0f} s ({wall / 60:.1f} min), CPU {cpu:.0f} s, "
              f"{n / cpu:,.0f} docs/CPU-s, peak RSS of the process {after.ru_maxrss / 1024:,.0f} MB")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
