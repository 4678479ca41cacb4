"""The per-record stages on the local engine and on Ray, same drop, same rows: docs/s, CPU-s, peak memory.

Corpus (real text only, **repeated**): the distinct docstrings and docstring
paragraphs of 8-400 words of the installed packages and the standard library
(:func:`_corpus.source_docstrings`, about 305k here), shuffled with a fixed seed
and repeated, each repeat under new ids, up to the drop size. At 100k documents
every text is distinct; at 1M each occurs three or four times, so about two in
three records are exact duplicates, which dedup drops before signing, and
quality and embeddings see only the distinct texts.

For each size one drop is ingested into two fresh stores and run through the
stages on the local engine in one and on a local Ray (``--num-cpus``, started
before the clock) in the other:

* ``normalize`` (a RecordTransform stored in ``normalized``);
* ``minhash signatures``: the signing transform alone (``SIGNATURES``: the
  drop's originals -> hash values, returned to the driver);
* ``dedup``: the whole stage, signing on the engine again and deciding on the
  driver (band-key joins in DuckDB);
* ``quality`` (a RecordTransform stored in ``quality``);
* ``embeddings`` of the cache misses with the fast static embedder
  (``var/models/fast-embedder``; skipped with a note when it is absent: MiniLM
  would take hours here): in process on the local engine, on a Ray actor pool on
  Ray (one model load per actor, ``[engine] actors`` = 0: the cluster's CPUs
  less one).

Then the two stores' ``normalized``, ``dedup``, ``minhash_signatures``,
``quality`` and ``embedding_cache`` are checked identical (order-free checksums
in DuckDB). Printed per stage and engine: the stage's rows, docs/s (rows over
wall seconds), docs/CPU-s (over the CPU-s of the driver and every Ray process),
the driver's CPU-s, the Ray processes' CPU-s (raylet, GCS and workers: every
descendant of the driver), wall-s, the driver's peak RSS during the stage and
the largest peak RSS of a Ray worker process (``ray::…``, lifetime high-water;
workers are reused across stages). Memory and CPU of Ray processes are sampled
from /proc every 0.2 s, so a worker that lives less than that is missed.
CPU-seconds are from one run; wall time on a shared machine is noise.

    .venv/bin/python bench/ray_scale.py [--sizes 100000 1000000] [--num-cpus 2] [--shard-rows 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

DROP = "2026-11-01"
FAST_EMBEDDER = ROOT / "var" / "models" / "fast-embedder"
TABLES = ("normalized", "dedup", "minhash_signatures", "quality", "embedding_cache")


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
    con = duckdb.connect(str(folder / f"store-{len(list(folder.glob('store-*.duckdb')))}.duckdb"))
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


def _cpu(pid: int) -> float | None:
    try:
        fields = _stat(pid)
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _status_kb(pid: int | str, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _is_worker(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::")
    except OSError:
        return False


class Sampler:
    """CPU-s and peak RSS of the driver's descendants and the driver's own RSS, sampled while a stage runs."""

    def __init__(self, with_ray: bool, every: float = 0.2):
        self.with_ray, self.every = with_ray, every
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.worker_hwm_kb = 0
        self.driver_kb = _status_kb("self", "VmRSS:")
        self._stop = threading.Event()
        self._started = False

    def sample(self) -> None:
        self.driver_kb = max(self.driver_kb, _status_kb("self", "VmRSS:"))
        if not self.with_ray:
            return
        for pid in ray_processes():
            cpu = _cpu(pid)
            if cpu is None:
                continue
            self.first.setdefault(pid, 0.0 if self._started else cpu)  # a process born in the stage starts at 0
            self.last[pid] = cpu
            if _is_worker(pid):
                self.worker_hwm_kb = max(self.worker_hwm_kb, _status_kb(pid, "VmHWM:"))

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def __enter__(self):
        self._started = False
        self.sample()  # the baseline of every process alive before the stage
        self._started = True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()

    @property
    def cluster_cpu(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


def measured(fn, with_ray: bool) -> dict:
    """Run ``fn`` (returns the stage's rows) and measure it."""
    with Sampler(with_ray) as sampler:  # the baseline sample is taken before the clock starts
        t0, c0 = time.perf_counter(), time.process_time()
        rows = fn()
        wall, driver = time.perf_counter() - t0, time.process_time() - c0
    return {"rows": rows, "wall": wall, "driver": driver, "cluster": sampler.cluster_cpu,
            "driver_rss": sampler.driver_kb / 1024, "worker_rss": sampler.worker_hwm_kb / 1024}


def run(con, engine, with_ray: bool, embedding) -> dict:
    from anchormix.dedup.near import NearDedupSettings, prepare
    from anchormix.engine import run_transform
    from anchormix.quality import QualitySettings
    from anchormix.stages.dedup import SIGNATURES, dedup_drop
    from anchormix.stages.embed import embed_drop
    from anchormix.stages.normalize import normalize_drop
    from anchormix.stages.quality import quality_drop

    near = NearDedupSettings()
    out = {"normalize": measured(lambda: normalize_drop(con, DROP, engine), with_ray)}
    prepare(con, near)
    out["minhash signatures"] = measured(lambda: run_transform(con, SIGNATURES, DROP, near, engine).num_rows, with_ray)
    out["dedup (sign + decide)"] = measured(lambda: dedup_drop(con, DROP, near, engine)["records"], with_ray)
    out["quality"] = measured(lambda: quality_drop(con, DROP, QualitySettings(), engine)["scored"], with_ray)
    if embedding is not None:
        out["embeddings (static)"] = measured(
            lambda: embed_drop(con, DROP, embedding, engine)["cache_misses"], with_ray)
    return out


def checksums(con) -> dict:
    """An order-free checksum and row count of each compared table."""
    out = {}
    for table in TABLES:
        exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                             [table]).fetchone()[0]
        if exists and table == "embedding_cache":  # keys in DuckDB, vectors in files: hash the vectors read back
            out[table] = _vector_checksum(con)
        elif exists:
            out[table] = con.execute(f"SELECT count(*), sum(hash(t)::HUGEINT) FROM {table} t").fetchone()
    return out


def _vector_checksum(con) -> tuple[int, str]:
    """Count and an order-free digest of every cached (content hash, model id, vector)."""
    import hashlib

    from anchormix.embed import EmbeddingCache

    cache, digest = EmbeddingCache(con), 0
    keys = con.execute("SELECT model_id, list(content_hash ORDER BY content_hash) FROM embedding_cache "
                       "GROUP BY model_id").fetchall()
    for model, hashes in keys:
        matrix, _ = cache.matrix(hashes, model)
        for h, row in zip(hashes, matrix):
            digest ^= int.from_bytes(hashlib.sha256(f"{model}|{h}|".encode() + row.tobytes()).digest()[:16], "big")
    return sum(len(h) for _, h in keys), f"{digest:032x}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000], help="documents per drop")
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--shard-rows", type=int, default=10_000)
    args = parser.parse_args()

    import ray

    from anchormix.embed import EmbeddingSettings
    from anchormix.engine import EngineSettings, make_engine

    embedding = None
    if (FAST_EMBEDDER / "config.json").is_file():
        embedding = EmbeddingSettings(backend="static", static_path=str(FAST_EMBEDDER))
    else:
        print(f"no fast embedder at {FAST_EMBEDDER}: embeddings not measured (`make fast-embedder` builds it)")
    t0 = time.perf_counter()
    ray.init(num_cpus=args.num_cpus, include_dashboard=False, logging_level="ERROR")
    import ray.data

    ray.data.DataContext.get_current().enable_progress_bars = False
    print(f"local Ray with num_cpus={args.num_cpus} started in {time.perf_counter() - t0:.1f} s wall")
    print("| docs | stage | engine | rows | docs/s | docs/CPU-s | driver CPU-s | Ray CPU-s | wall-s | "
          "driver peak RSS MB | Ray worker peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        texts = corpus(n)
        with tempfile.TemporaryDirectory(prefix="anchormix-ray-scale-") as tmp:
            folder = Path(tmp)
            local_con, ray_con = store(folder, texts), store(folder, texts)
            del texts
            settings = EngineSettings(kind="ray", num_cpus=args.num_cpus, shard_rows=args.shard_rows)
            engine = make_engine(settings, str(folder / "data"))
            results = {"local": run(local_con, None, False, embedding), "ray": run(ray_con, engine, True, embedding)}
            expected, got = checksums(local_con), checksums(ray_con)
            for table in expected:
                assert got[table] == expected[table], table
            for stage in results["local"]:
                for name, res in results.items():
                    r = res[stage]
                    cpu = r["driver"] + r["cluster"]
                    print(f"| {n:,} | {stage} | {name} | {r['rows']:,} | {r['rows'] / r['wall']:,.0f} | "
                          f"{r['rows'] / cpu:,.0f} | {r['driver']:.2f} | {r['cluster']:.2f} | {r['wall']:.1f} | "
                          f"{r['driver_rss']:,.0f} | {r['worker_rss']:,.0f} |", flush=True)
            local_con.close()
            ray_con.close()
    ray.shutdown()
    print(f"rows identical on both engines ({', '.join(expected)}); command: .venv/bin/python bench/ray_scale.py "
          + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
