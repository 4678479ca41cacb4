"""Per-stage cost of the nightly path at 10k and 100k documents, and its growth over ten nights.

Corpus (real text only): every distinct docstring and docstring paragraph of
8-400 words in the installed packages and the standard library, read with
``ast`` (:func:`_corpus.source_docstrings`, about 100k texts here), shuffled
with a fixed seed. A drop is half a signed human archive (ed25519 manifests,
verified at provenance) and half an unsigned crawl, plus the OUTFOX machine
essays of ``../shared/data/outfox/valid.jsonl`` as a declared generator, so the
detector trains and scores the crawl as it would in production.

Printed, in one run:

* for a 10k and a 100k drop into a fresh store: each stage's rows in,
  docs/CPU-s, CPU-s, wall-s and peak RSS (sampled), the non-embedding total
  in docs/CPU-s, and each stage's CPU-s per document at 100k over 10k
  (1.00 = linear);
* ten nights of 10k into one store: each stage's CPU-s on night 10 over
  night 1, and the total.

Each night runs in a process of its own, as a nightly run does: its peak RSS is
the pipeline's, not this bench's (which holds the whole corpus), and a stage's
CPU-s include the imports it makes on first use. CPU-seconds are the process's
(all threads) from one run; wall time on a shared machine is noise. The embedder is ``[embedding]`` of the bench's config:
``--embedder fast`` (default, the static model built by ``make fast-embedder``;
``--static-path`` for another artifact) or ``minilm``.

    .venv/bin/python bench/scale.py [--sizes 10000 100000] [--nights 10] [--night-size 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
from statistics import median
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ARCHIVE, CRAWL, GENERATOR, KEY_ID = "docs-archive", "docs-crawl", "outfox-generators", "bench-2026"
EMBEDDERS = {"fast": '[embedding]\nbackend = "static"\nstatic_path = "{static}"\n', "minilm": ""}


def corpus() -> tuple[list[str], list[str]]:
    """``(human texts shuffled, machine essays)``."""
    import _corpus

    texts = _corpus.source_docstrings()
    random.Random(0).shuffle(texts)
    rows = [json.loads(line) for line in _corpus.OUTFOX.open()] if _corpus.OUTFOX.is_file() else []
    return texts, [r["text"] for r in rows if r["label"] == "machine"]


STATIC = {"path": str(ROOT / "var" / "models" / "fast-embedder")}


def write_project(root: Path, embedder: str):
    """Registry with a signing key, config; returns (settings, private key)."""
    from _project import Sources, write_project as write

    return write(root, Sources(ARCHIVE, GENERATOR, CRAWL, KEY_ID, archive_license="PSF-2.0",
                               crawl_license="LicenseRef-mixed-crawl"),
                 EMBEDDERS[embedder].replace("{static}", STATIC["path"]))


def write_drop(root: Path, drop: str, texts: list[str], machine: list[str], private, offset: int) -> int:
    """One JSONL drop: even records signed archive, odd ones crawl, then the machine essays declared."""
    from anchormix.provenance.manifest import sign_text

    fetched = f"{drop}T01:00:00+00:00"
    folder = root / "inbox" / drop
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "drop.jsonl", "w", encoding="utf-8") as f:
        for i, text in enumerate(texts):
            rec = {"id": f"doc-{offset + i}", "url": f"https://docs.example/{offset + i}", "text": text,
                   "fetched_at": fetched, "source": ARCHIVE if i % 2 == 0 else CRAWL}
            if i % 2 == 0:
                rec["manifest"] = sign_text(text, source=ARCHIVE, creator="package authors", capture_time=fetched,
                                            digital_source_type="digitalCapture", private_key=private, key_id=KEY_ID)
            f.write(json.dumps(rec) + "\n")
        for j, text in enumerate(machine):
            f.write(json.dumps({"id": f"gen-{drop}-{j}", "url": f"https://generated.example/{drop}/{j}",
                                "text": text, "fetched_at": fetched, "source": GENERATOR}) + "\n")
    return len(texts) + len(machine)


def night(con, drop: str, settings, pin: bool) -> list:
    """Every nightly stage on ``drop``, measured; pins the baseline after the curation stages on the first night."""
    from anchormix.runner import pin_baseline
    from anchormix.stages.plan import NIGHTLY, StageContext, run_stage

    ctx = StageContext(con, drop, settings)
    stats = []
    for st in NIGHTLY:
        if st.name == "diversity" and pin:
            pin_baseline(con, drop, settings)
        summary, measured = run_stage(st, ctx)
        stats.append(measured)
        if st.name == "semantic_dedup" and summary.get("verify_band_pairs"):
            print(f"  semantic_dedup: {summary['verify_band_pairs']:,} pairs within the verify margin, "
                  f"{summary['verify_kept']:,} kept by MiniLM, which embedded {summary['verify_teacher_records']:,} "
                  f"records ({summary['verify_teacher_records'] / max(1, summary['new']):.2%} of the drop's unique)",
                  flush=True)
    return stats


def _night_in_process(drop: str, settings, pin: bool) -> list:
    from anchormix.store import connect_store, init_schema

    with connect_store(settings.paths.store) as con:
        init_schema(con)
        return night(con, drop, settings, pin)


def night_apart(drop: str, settings, pin: bool) -> list:
    """:func:`night` in a new process, as a nightly run is: its peak RSS is the pipeline's, not this bench's
    (which holds the whole corpus), and its CPU-s include the imports a stage makes on first use."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_night_in_process, drop, settings, pin).result()


def fresh_store(embedder: str):
    root = Path(tempfile.mkdtemp(prefix="anchormix-scale-"))
    settings, private = write_project(root, embedder)
    return root, settings, private


def table(stats: list, title: str) -> dict:
    print(f"\n{title}")
    print(f"  {'stage':<16} {'rows in':>9} {'docs/CPU-s':>11} {'CPU-s':>8} {'wall-s':>8} {'peak RSS MB':>12}")
    for s in stats:
        rate = f"{s.docs_per_cpu_s:,.0f}" if s.cpu_s > 0 else "-"
        print(f"  {s.stage:<16} {s.rows_in:>9,} {rate:>11} {s.cpu_s:>8.2f} {s.wall_s:>8.2f} {s.peak_rss_mb:>12,.0f}")
    docs = stats[0].rows_in
    non_embed = sum(s.cpu_s for s in stats if s.stage != "embeddings")
    embed = sum(s.cpu_s for s in stats if s.stage == "embeddings")
    print(f"  non-embedding path: {non_embed:.1f} CPU-s, {docs / non_embed:,.0f} docs/CPU-s; embedding "
          f"{embed:.1f} CPU-s, {docs / embed if embed else float('inf'):,.0f} docs/CPU-s; peak RSS "
          f"{max(s.peak_rss_mb for s in stats):,.0f} MB")
    return {s.stage: s for s in stats}


def sized(texts, machine, sizes, embedder) -> None:
    runs = {}
    for n in sizes:
        root, settings, private = fresh_store(embedder)
        try:
            drop = "2026-03-01"
            total = write_drop(root, drop, texts[:n], machine, private, 0)
            runs[n] = table(night_apart(drop, settings, pin=True), f"one drop of {total:,} records "
                            f"({n:,} docstrings + {len(machine):,} machine essays), fresh store")
        finally:
            shutil.rmtree(root, ignore_errors=True)
    if len(sizes) >= 2:
        a, b = sizes[0], sizes[-1]
        print(f"\nlinearity: CPU-s per record at {b:,} over {a:,} (1.00 = linear; goal <= 1.10)")
        for name, s in runs[b].items():
            small = runs[a][name]
            if small.cpu_s > 0 and small.rows_in and s.rows_in:
                print(f"  {name:<16} {(s.cpu_s / s.rows_in) / (small.cpu_s / small.rows_in):6.2f}")


def growth(texts, machine, nights: int, size: int, embedder) -> None:
    root, settings, private = fresh_store(embedder)
    per_night = []
    try:
        for k in range(nights):
            drop = (date(2026, 3, 1) + timedelta(days=k)).isoformat()
            write_drop(root, drop, texts[k * size:(k + 1) * size], machine[k::nights], private, k * size)
            stats = night_apart(drop, settings, pin=(k == 0))
            per_night.append({s.stage: s for s in stats})
            total = sum(s.cpu_s for s in stats if s.stage != "embeddings")
            print(f"  night {k + 1:>2}: non-embedding {total:6.1f} CPU-s, embedding "
                  f"{sum(s.cpu_s for s in stats if s.stage == 'embeddings'):6.1f} CPU-s", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    first, last = per_night[0], per_night[-1]
    print(f"\ngrowth: night {nights} / night 1 CPU-s, {size:,} docs a night into one store (goal <= 1.15 overall)")
    for name in first:
        if first[name].cpu_s > 0.05:
            print(f"  {name:<16} {last[name].cpu_s / first[name].cpu_s:6.2f}   "
                  f"({first[name].cpu_s:.2f} -> {last[name].cpu_s:.2f} CPU-s)")
    t1 = sum(s.cpu_s for s in first.values() if s.stage != "embeddings")
    t10 = sum(s.cpu_s for s in last.values() if s.stage != "embeddings")
    print(f"  {'all but embedding':<16} {t10 / t1:6.2f}   ({t1:.1f} -> {t10:.1f} CPU-s)")
    if nights >= 7:
        # Night 1 has no history to search and trains the first detector; single nights swing with retrains.
        # Medians of nights 2-4 against the last three show what history itself adds.
        early, late = per_night[1:4], per_night[-3:]
        print(f"\nmedian CPU-s of nights 2-4 and of nights {nights - 2}-{nights}, and every night's CPU-s")
        for name in first:
            a = median([n[name].cpu_s for n in early])
            b = median([n[name].cpu_s for n in late])
            if a > 0.05:
                every = " ".join(f"{n[name].cpu_s:.2f}" for n in per_night)
                print(f"  {name:<16} {b / a:6.2f}   ({a:.2f} -> {b:.2f})   {every}")
        a = median([sum(s.cpu_s for s in n.values() if s.stage != "embeddings") for n in early])
        b = median([sum(s.cpu_s for s in n.values() if s.stage != "embeddings") for n in late])
        print(f"  {'all but embedding':<16} {b / a:6.2f}   ({a:.1f} -> {b:.1f})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--nights", type=int, default=10)
    parser.add_argument("--night-size", type=int, default=10_000)
    parser.add_argument("--embedder", choices=sorted(EMBEDDERS), default="fast")
    parser.add_argument("--static-path", default=STATIC["path"], help="fast embedder artifact (make fast-embedder)")
    args = parser.parse_args(argv)
    STATIC["path"] = str(Path(args.static_path).resolve())
    texts, machine = corpus()
    print(f"corpus: {len(texts):,} distinct docstrings (installed packages + stdlib), {len(machine):,} machine essays")
    need = max(args.sizes + [args.nights * args.night_size])
    if len(texts) < need:
        print(f"only {len(texts):,} texts for {need:,} wanted: sizes are capped", file=sys.stderr)
    sized(texts, machine, [min(n, len(texts)) for n in args.sizes], args.embedder)
    if args.nights:
        print(f"\n{args.nights} nights of {args.night_size:,} into one store")
        size = min(args.night_size, len(texts) // args.nights)
        growth(texts, machine, args.nights, size, args.embedder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
