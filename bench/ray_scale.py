"""The per-record stages on the local engine and on Ray, same drop, same rows: docs/CPU-s, wall-s, peak memory.

Corpus (real text only): the distinct docstrings and docstring paragraphs of
8-400 words of the installed packages and the standard library
(:func:`_corpus.source_docstrings`, about 100k here), shuffled with a fixed
seed and **repeated** (each repeat under new ids) up to the drop size, so at
1M documents most texts occur about ten times.

For each size: one drop is ingested into two fresh stores; normalize, exact and
near dedup (not measured, quality reads its verdicts) and quality run on the
local engine in one and on a local Ray (``--num-cpus``, started before the
clock) in the other, and the two stores' ``normalized`` and ``quality`` rows
are checked identical. Printed per stage and engine: docs/CPU-s, the driver's
CPU-s, the Ray processes' CPU-s (raylet, GCS and workers: every descendant of
the driver, sampled before and after the stage; a worker that exits within the
stage is not counted), wall-s, the driver's peak RSS so far (local runs first, so it is a high-water mark) and the largest peak RSS
of a Ray process. CPU-seconds are from one run; wall time on a shared machine
is noise.

    .venv/bin/python bench/ray_scale.py [--sizes 10000 100000 1000000] [--num-cpus 2] [--shard-rows 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

DROP = "2026-11-01"


def corpus(n: int) -> list[str]:
    """``n`` real texts: the shuffled docstrings, repeated as often as ``n`` needs."""
    import _corpus

    texts = _corpus.source_docstrings()
    random.Random(0).shuffle(texts)
    return [texts[i % len(texts)] for i in range(n)]


def store(folder: Path, texts: list[str]):
    """A fresh store with ``texts`` ingested as one drop."""
    import duckdb

    from anchormix.readers import IngestSettings
    from anchormix.stages.ingest import ingest_drop
    from anchormix.store import init_schema

    inbox = folder / "inbox"
    if not (inbox / DROP).exists():
        (inbox / DROP).mkdir(parents=True)
        with open(inbox / DROP / "drop.jsonl", "w", encoding="utf-8") as f:
            for i, text in enumerate(texts):
                f.write(json.dumps({"id": f"doc-{i}", "url": f"https://docs.example/{i}", "text": text,
                                    "fetched_at": f"{DROP}T01:00:00+00:00", "source": "docs"}) + "\n")
    con = duckdb.connect(str(folder / f"store-{len(list(folder.glob('store-*')))}.duckdb"))
    init_schema(con)
    ingest_drop(con, inbox, DROP, IngestSettings(max_text_bytes=200_000))
    return con


def _stat(pid: int) -> list[str]:
    """Fields of /proc/<pid>/stat after the command name (field 3 onward)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()


def ray_processes() -> list[int]:
    """Every descendant of this process (the local Ray's GCS, raylet and workers), read from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def cpu_of(pids) -> dict[int, float]:
    """user + system CPU-s of each live pid."""
    tick, out = os.sysconf("SC_CLK_TCK"), {}
    for pid in pids:
        try:
            fields = _stat(pid)
            out[pid] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return out


def peak_rss_mb(pids) -> float:
    """The largest VmHWM (peak resident set) among ``pids``, in MB."""
    best = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    best = max(best, int(line.split()[1]))
        except OSError:
            pass
    return best / 1024


def measured(fn, with_ray: bool) -> dict:
    before_procs = ray_processes() if with_ray else []
    before = cpu_of(before_procs)
    t0, c0 = time.perf_counter(), time.process_time()
    rows = fn()
    wall, driver = time.perf_counter() - t0, time.process_time() - c0
    procs = ray_processes() if with_ray else []
    after = cpu_of(procs)
    cluster = sum(after[pid] - before.get(pid, 0.0) for pid in after)
    return {"rows": rows, "wall": wall, "driver": driver, "cluster": cluster,
            "driver_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "ray_rss": peak_rss_mb(procs)}


def run(con, engine, with_ray: bool) -> dict:
    from anchormix.dedup.near import NearDedupSettings
    from anchormix.quality import QualitySettings
    from anchormix.stages.dedup import dedup_drop
    from anchormix.stages.normalize import normalize_drop
    from anchormix.stages.quality import quality_drop

    out = {"normalize": measured(lambda: normalize_drop(con, DROP, engine), with_ray)}
    dedup_drop(con, DROP, NearDedupSettings())
    out["quality"] = measured(lambda: quality_drop(con, DROP, QualitySettings(), engine)["scored"], with_ray)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--shard-rows", type=int, default=10_000)
    args = parser.parse_args()

    import ray

    from anchormix.engine import EngineSettings, make_engine

    t0 = time.perf_counter()
    ray.init(num_cpus=args.num_cpus, include_dashboard=False, logging_level="ERROR")
    print(f"local Ray with num_cpus={args.num_cpus} started in {time.perf_counter() - t0:.1f} s wall")
    print("| docs | stage | engine | docs/CPU-s | driver CPU-s | Ray CPU-s | wall-s | driver peak RSS MB | "
          "Ray process peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        texts = corpus(n)
        with tempfile.TemporaryDirectory(prefix="anchormix-ray-scale-") as tmp:
            folder = Path(tmp)
            local_con, ray_con = store(folder, texts), store(folder, texts)
            settings = EngineSettings(kind="ray", num_cpus=args.num_cpus, shard_rows=args.shard_rows)
            engine = make_engine(settings, str(folder / "data"))
            results = {"local": run(local_con, None, False), "ray": run(ray_con, engine, True)}
            for table in ("normalized", "quality"):
                query = f"SELECT * FROM {table} ORDER BY id"
                assert local_con.execute(query).fetchall() == ray_con.execute(query).fetchall(), table
            for stage in ("normalize", "quality"):
                for name, res in results.items():
                    r = res[stage]
                    cpu = r["driver"] + r["cluster"]
                    print(f"| {n:,} | {stage} | {name} | {r['rows'] / cpu:,.0f} | {r['driver']:.2f} | "
                          f"{r['cluster']:.2f} | {r['wall']:.1f} | {r['driver_rss']:,.0f} | {r['ray_rss']:,.0f} |")
    ray.shutdown()
    print("rows identical on both engines (normalized, quality); command: .venv/bin/python bench/ray_scale.py "
          + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
