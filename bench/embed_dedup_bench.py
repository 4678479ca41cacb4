"""Throughput and memory of embedding (cold / warm cache), MinHash and semantic dedup.

The corpus is real text already on the machine: paragraphs of the OUTFOX essays
(``../shared/data/outfox/valid.jsonl``, when present) and docstrings of the
standard library and site-packages, read with ``ast`` (nothing is imported).
Exact duplicates are removed first, as the exact-dedup stage would.

    .venv/bin/python bench/embed_dedup_bench.py --limit 20000 [--quantize]

Printed figures, never asserted: this is a bench, not a timed test.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import resource
import sys
import sysconfig
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
warnings.filterwarnings("ignore")

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anchormix.dedup.near import NearDedupSettings, find_near_duplicates, load_signatures  # noqa: E402
from anchormix.dedup.semantic import auto_clusters, brute_force_pairs, candidate_pairs, semantic_duplicates  # noqa: E402
from anchormix.diversity import effective_rank, vendi_score  # noqa: E402
from anchormix.embed import EmbeddingSettings, embed_texts, load_model, model_id  # noqa: E402
from anchormix.normalize import content_hash, normalize_text  # noqa: E402

OUTFOX = ROOT.parent / "shared" / "data" / "outfox" / "valid.jsonl"


def peak_rss_mb() -> float:
    """Peak resident set size of this process since the last reset, in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0) so each stage reports its own peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def outfox_paragraphs() -> list[str]:
    if not OUTFOX.is_file():
        print(f"note: {OUTFOX} absent; corpus from docstrings only")
        return []
    out = []
    with OUTFOX.open() as fh:
        for line in fh:
            text = json.loads(line)["text"]
            out.extend(p for p in text.split("\n") if len(p.split()) >= 8)
    return out


def docstrings(limit: int) -> list[str]:
    roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    out: list[str] = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if "test" in path.parts or "tests" in path.parts:
                continue
            try:
                tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
            except (SyntaxError, ValueError, RecursionError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    doc = ast.get_docstring(node)
                    if doc and len(doc.split()) >= 5:
                        out.append(doc)
            if len(out) >= limit:
                return out
    return out


def build_corpus(limit: int, seed: int) -> pd.DataFrame:
    started = time.perf_counter()
    paragraphs = outfox_paragraphs()
    docs = docstrings(max(limit, limit * 2 - len(paragraphs)))
    rows = {}
    for text in paragraphs + docs:
        norm = normalize_text(text)
        if norm:
            rows.setdefault(content_hash(norm), norm)  # exact dedup, as upstream would
    items = list(rows.items())
    random.Random(seed).shuffle(items)
    items = items[:limit]
    df = pd.DataFrame(items, columns=["content_hash", "norm_text"])
    df.insert(0, "id", [f"doc-{i:06d}" for i in range(len(df))])
    words = df["norm_text"].str.split().str.len()
    print(
        f"corpus: {len(df)} distinct docs ({len(paragraphs)} essay paragraphs, {len(docs)} docstrings harvested), "
        f"median {int(words.median())} words, mean {words.mean():.0f}; built in {time.perf_counter() - started:.1f}s"
    )
    return df


def bench_embed(con, df: pd.DataFrame, variants: dict[str, EmbeddingSettings], chunk: int = 1024) -> dict[str, np.ndarray]:
    """Cold then warm cache for each variant; variants alternate chunk by chunk.

    The machine may be shared, so a fp32-then-int8 sequence would compare two
    different load levels; interleaving gives both the same conditions.
    """
    for label, settings in variants.items():
        load_started = time.perf_counter()
        load_model(settings)
        print(f"[{label}] model load {time.perf_counter() - load_started:.1f}s, model_id={model_id(settings)}")
    vectors: dict[str, list[np.ndarray]] = {}
    for phase in ("cold", "warm"):
        reset_peak()
        seconds = dict.fromkeys(variants, 0.0)
        hits = dict.fromkeys(variants, 0)
        misses = dict.fromkeys(variants, 0)
        vectors = {label: [] for label in variants}
        for start in range(0, len(df), chunk):
            part = df.iloc[start : start + chunk]
            for label, settings in variants.items():
                started = time.perf_counter()
                r = embed_texts(con, part["content_hash"].tolist(), part["norm_text"].tolist(), settings)
                seconds[label] += time.perf_counter() - started
                hits[label] += r.hits
                misses[label] += r.misses
                vectors[label].append(r.vectors)
        for label in variants:
            print(
                f"[{label}] embed {phase}: {len(df)} docs in {seconds[label]:.1f}s = {len(df) / seconds[label]:,.1f} "
                f"docs/s (hits {hits[label]}, misses {misses[label]}); peak RSS {peak_rss_mb():,.0f} MB"
            )
    return {label: np.vstack(parts) for label, parts in vectors.items()}


def bench_minhash(df: pd.DataFrame) -> None:
    settings = NearDedupSettings()
    half = len(df) // 2
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "minhash.duckdb"))
        reset_peak()
        started = time.perf_counter()
        first = find_near_duplicates(con, df.iloc[:half], settings)
        t1 = time.perf_counter() - started
        started = time.perf_counter()
        second = find_near_duplicates(con, df.iloc[half:], settings)
        t2 = time.perf_counter() - started
        started = time.perf_counter()
        ids, _ = load_signatures(con, settings)
        t3 = time.perf_counter() - started
        print(
            f"minhash (num_perm={settings.num_perm}, shingles={settings.shingle_size}, threshold={settings.minhash_threshold}): "
            f"history {half} docs {half / t1:,.0f} docs/s ({len(first)} near dups); "
            f"tonight {len(df) - half} docs vs {half}-doc history {(len(df) - half) / t2:,.0f} docs/s "
            f"({len(second)} near dups); reload {len(ids)} stored signatures {t3:.2f}s; peak RSS {peak_rss_mb():,.0f} MB"
        )
        if len(second):
            example = second.iloc[0]
            print(f"  e.g. {example['id']} ~ {example['duplicate_of']} (J~{example['similarity']:.2f})")
        con.close()


def bench_semantic(vectors: np.ndarray, tau: float) -> None:
    n = len(vectors)
    ids = [f"doc-{i:06d}" for i in range(n)]
    is_history = np.zeros(n, bool)
    is_history[: n // 2] = True
    reset_peak()
    started = time.perf_counter()
    dups = semantic_duplicates(ids, vectors, is_history, tau=tau)
    elapsed = time.perf_counter() - started
    print(
        f"semantic (tau={tau}, clusters={auto_clusters(n)}, nprobe=8): {n} vectors ({n - n // 2} new) in {elapsed:.2f}s "
        f"= {n / elapsed:,.0f} docs/s, {len(dups)} semantic dups; peak RSS {peak_rss_mb():,.0f} MB"
    )
    for t in sorted({tau, 0.9, 0.85}, reverse=True):
        started = time.perf_counter()
        exact = brute_force_pairs(vectors, t)
        t_exact = time.perf_counter() - started
        started = time.perf_counter()
        found = candidate_pairs(vectors, t)
        t_found = time.perf_counter() - started
        es, fs = set(zip(exact.i, exact.j)), set(zip(found.i, found.j))
        recall = len(es & fs) / len(es) if es else 1.0
        print(
            f"  all-pairs at tau={t}: exact numpy {len(es)} pairs in {t_exact:.1f}s; clustered FAISS {len(fs)} pairs "
            f"in {t_found:.1f}s; recall {recall:.4f}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=20000, help="documents in the corpus (default 20000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--quantize", action="store_true", help="also time the dynamic int8 model")
    parser.add_argument("--tau", type=float, default=0.95)
    args = parser.parse_args(argv)

    import torch

    print(
        f"torch threads {torch.get_num_threads()}, cpu count {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f} (other jobs on a shared machine skew timings)"
    )
    df = build_corpus(args.limit, args.seed)
    bench_minhash(df)
    settings = EmbeddingSettings(max_seq_length=args.max_seq_length, batch_size=args.batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "embed.duckdb"))
        variants = {"fp32": settings}
        if args.quantize:
            variants["int8"] = EmbeddingSettings(
                max_seq_length=args.max_seq_length, batch_size=args.batch_size, quantize=True
            )
        embedded = bench_embed(con, df, variants)
        vectors = embedded["fp32"]
        con.execute("CHECKPOINT")
        size = sum(f.stat().st_size for f in Path(tmp).iterdir())
        print(f"  embedding_cache on disk: {size / 2**20:,.0f} MB for {len(df)} x {len(variants)} vectors")
        if args.quantize:
            cos = (vectors * embedded["int8"]).sum(axis=1)
            print(
                f"  int8 vs fp32 cosine per doc: mean {cos.mean():.4f}, p1 {np.percentile(cos, 1):.4f}, min {cos.min():.4f}"
            )
        con.close()
    bench_semantic(vectors, args.tau)
    started = time.perf_counter()
    v, r = vendi_score(vectors), effective_rank(vectors)
    print(f"diversity: vendi {v:.1f}, effective rank {r:.1f} of {len(vectors)}x{vectors.shape[1]} in {time.perf_counter() - started:.2f}s")
    print(f"process peak RSS (ru_maxrss) {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB; "
          f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
