"""Calibration of the diversity gate: false blocks on healthy nights, power against collapse, cost.

    .venv/bin/python bench/gate_calibration.py [--nights 100] [--seeds 20] [--skip-runner]

Data (real human text only, see bench/_corpus.py): docstrings of the standard
library and installed packages, and OUTFOX's human essays. The docstrings are
split once, by a seeded permutation, into a baseline pool (pinned like the
pipeline pins one), a *tune* part used while choosing the defaults, and a
*held-out* part kept aside: the false-block figures that count are the
held-out ones.

1. False blocks: >= 100 healthy nights at n = 50, 100, 300, 1000 under *replace*
   (each night n fresh human records) and *accumulate* (the real sampler,
   ``anchormix.mix.sample_mix``, with fresh_share over a kept mix of n).
2. Power:
   a. the project's Markov generator, recursively (generation k trained only
      on k-1), one seed per run: is generation 2 blocked?
   b. topic narrowing on the essays: TF-IDF + k-means groups the essays into
      12 topics; night t holds essays of t topics only (12 down to 1);
   c. accumulate over 10 generations through the real runner (DuckDB,
      embeddings, gates, publish): published, and new records taken in.
3. Cost of the gate on a 10,000-record candidate, in CPU-seconds, cold and warm.

Every figure is printed with its seed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _corpus  # noqa: E402

from anchormix.baseline import assign_clusters, pin_baseline  # noqa: E402
from anchormix.diversity import tail_clusters  # noqa: E402
from anchormix.diversity_gate import GateSettings, judge_candidate  # noqa: E402
from anchormix.healthy_null import NULLS  # noqa: E402
from anchormix.mix import MixPolicy, sample_mix  # noqa: E402

SIZES = (50, 100, 300, 1000)
MODEL = "bench"


def pin(vectors, texts, ids, k, seed=0):
    return pin_baseline(vectors, MODEL, k=k, seed=seed, directory=tempfile.mkdtemp(prefix="gate-cal-"),
                        texts=texts, ids=ids)


def failed_tests(verdict) -> list[str]:
    return [r.gate.split(" ")[0] for r in verdict.failed]


def replace_nights(baseline, night_vectors, n, nights, settings, seed):
    """Each night n fresh records; the previous night's candidate is the previous generation."""
    rng = np.random.default_rng(seed)
    blocked, causes, previous = 0, {}, None
    for _ in range(nights):
        x = night_vectors[rng.choice(len(night_vectors), n, replace=False)]
        v = judge_candidate(baseline, x, ["human"] * n, settings, 0.2, previous=previous)
        if not v.passed:
            blocked += 1
            for t in failed_tests(v):
                causes[t] = causes.get(t, 0) + 1
        else:
            previous = x
    return blocked, causes


def accumulate_nights(baseline, base_vectors, night_vectors, n, nights, settings, seed, fresh_share=0.25):
    """The real sampler: a kept mix of n (first drawn from the baseline pool), fresh records each night."""
    rng = np.random.default_rng(seed)
    protected = tail_clusters(baseline.hist, 0.2).tolist()
    base_clusters = assign_clusters(baseline, base_vectors)
    night_clusters = assign_clusters(baseline, night_vectors)
    kept = [("b", int(i)) for i in rng.choice(len(base_vectors), min(n, len(base_vectors)), replace=False)]
    policy = MixPolicy(human_floor=0.5, synthetic_cap=0.3, unknown_cap=0.1, target_size=n, mode="accumulate",
                       fresh_share=fresh_share, seed=seed)
    vec = {"b": base_vectors, "h": night_vectors}
    clu = {"b": base_clusters, "h": night_clusters}
    previous = np.stack([vec[s][i] for s, i in kept])
    blocked, causes, added = 0, {}, []
    for night in range(nights):
        taken = {i for s, i in kept if s == "h"}
        free = np.array([i for i in range(len(night_vectors)) if i not in taken])
        fresh = [("h", int(i)) for i in rng.choice(free, min(max(10, n // 4), len(free)), replace=False)]
        rows = kept + fresh
        drop = f"night-{night:03d}"
        pool = pd.DataFrame({
            "id": [f"{s}{i}" for s, i in rows], "source": "docs", "provenance_class": "human_presumed",
            "cluster": [int(clu[s][i]) for s, i in rows], "quality_score": 1.0,
            "drop": ["old"] * len(kept) + [drop] * len(fresh),
            "previously_published": [True] * len(kept) + [False] * len(fresh)})
        result = sample_mix(pool, policy, baseline.weights, drop, protected_clusters=protected)
        chosen = [(i[0], int(i[1:])) for i in result.selected["id"]]
        x = np.stack([vec[s][i] for s, i in chosen])
        v = judge_candidate(baseline, x, ["human"] * len(x), settings, 0.2, previous=previous)
        added.append(result.added)
        if v.passed:
            kept, previous = chosen, x
        else:
            blocked += 1
            for t in failed_tests(v):
                causes[t] = causes.get(t, 0) + 1
    return blocked, causes, added


def false_blocks(args, settings, baseline, base_v, parts):
    print(f"\n## 1. False blocks on healthy nights (alpha {settings.alpha}, {args.nights} nights each, "
          f"baseline pool {len(base_v)} docstrings, 16 clusters)")
    print(f"{'part':<9}{'policy':<12}{'n':>6}{'blocked':>9}{'rate':>8}  seed  blocking tests")
    for part, vectors in parts.items():
        for policy in ("replace", "accumulate"):
            for n in SIZES:
                seed = 1000 + n
                if policy == "replace":
                    blocked, causes = replace_nights(baseline, vectors, n, args.nights, settings, seed)
                else:
                    blocked, causes, _ = accumulate_nights(baseline, base_v, vectors, n, args.nights, settings, seed)
                print(f"{part:<9}{policy:<12}{n:>6}{blocked:>9}{blocked / args.nights:>8.1%}  {seed}  "
                      f"{causes or ''}", flush=True)


def recursive_power(args, settings, baseline, human_texts):
    from anchormix.demo.markov import recursive_generations

    print(f"\n## 2a. Recursive Markov generator under replace ({args.seeds} seeds, 200 records a generation, "
          "trained on 400 docstrings of the tune part)")
    print(f"{'seed':>5}  gen1 (synthetic only)              gen2")
    blocked2 = 0
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        train = [human_texts[i] for i in rng.choice(len(human_texts), 400, replace=False)]
        gens = recursive_generations(train, generations=2, per_generation=200, seed=seed)
        verdicts = []
        for g, texts in enumerate(gens, start=1):
            x = _corpus.embed(texts, f"markov-s{seed}-g{g}")
            verdicts.append(judge_candidate(baseline, x, ["synthetic"] * len(x), settings, 0.2))
        blocked2 += not verdicts[1].passed
        words = ["BLOCKED " + ",".join(sorted(set(failed_tests(v)))) if not v.passed else "passed" for v in verdicts]
        print(f"{seed:>5}  {words[0]:<34} {words[1]}", flush=True)
    print(f"generation 2 blocked in {blocked2} of {args.seeds} seeds ({blocked2 / args.seeds:.0%})")


def topic_narrowing(args, settings):
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    ids, texts = _corpus.essays()
    if not texts:
        print("\n## 2b. Topic narrowing: skipped, OUTFOX essays not found at", _corpus.OUTFOX)
        return
    vectors = _corpus.embed(texts, "essays")
    tfidf = TfidfVectorizer(stop_words="english", min_df=3, sublinear_tf=True).fit_transform(texts)
    topics = KMeans(12, n_init=10, random_state=0).fit_predict(tfidf)
    print(f"\n## 2b. Topic narrowing on {len(texts)} OUTFOX human essays: 12 topics by TF-IDF + k-means "
          "(random_state 0); baseline = a random half, 8 clusters; nights of 60 essays from the other half")
    print("topic sizes:", np.bincount(topics).tolist())
    firsts = []
    for seed in range(args.seeds // 2 or 1):
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(texts))
        base, rest = order[: len(texts) // 2], order[len(texts) // 2:]
        baseline = pin(vectors[base], [texts[i] for i in base], [ids[i] for i in base], k=8, seed=seed)
        topic_order = rng.permutation(12)
        line, first, cause = [], None, ""
        for t in range(12, 0, -1):
            allowed = set(topic_order[:t].tolist())
            pool = np.array([i for i in rest if topics[i] in allowed])
            x = vectors[rng.choice(pool, min(60, len(pool)), replace=False)]
            v = judge_candidate(baseline, x, ["human"] * len(x), settings, 0.2)
            line.append("." if v.passed else "B")
            if not v.passed and first is None:
                first = t
                cause = ",".join(sorted(set(failed_tests(v))))
        firsts.append(first)
        print(f"seed {seed}: topics 12→1 {' '.join(line)}   first block at {first} topics ({cause})", flush=True)
    ok = sum(1 for f in firsts if f is not None and f >= 4)
    print(f"blocked by the night holding 4 of 12 topics in {ok} of {len(firsts)} seeds")


def accumulate_runner(args):
    from anchormix.demo.collapse import run_collapse

    print("\n## 2c. Accumulate over 10 generations through the real runner (DuckDB, MiniLM, gates, publish); "
          "each night brings generation k of the Markov generator and 40 fresh stdlib docstrings")
    root = Path(tempfile.mkdtemp(prefix="gate-cal-acc-"))
    results = run_collapse(root, "accumulate", generations=10, fresh_human_per_night=40)
    published = 0
    for gen, r in sorted(results.items()):
        intake = r["candidate"]["intake"]
        published += r["published"] is not None
        print(f"generation {gen:>2}: {'published' if r['published'] else 'BLOCKED ' + str(r['refused'])}, "
              f"n {r['candidate']['n_records']}, added {intake['added']}, retired {intake['retired']}", flush=True)
    print(f"published {published} of {len(results)} generations")


def cost(settings, baseline, all_v):
    rng = np.random.default_rng(7)
    x = all_v[rng.choice(len(all_v), 10_000, replace=True)] + 0.01 * rng.normal(size=(10_000, all_v.shape[1]))
    previous = all_v[rng.choice(len(all_v), 3000, replace=False)]
    NULLS._items.clear()
    print("\n## 3. Cost of the gate on a 10,000-record candidate (previous generation 3,000)")
    for label in ("cold (nulls computed)", "warm (nulls cached)"):
        t = time.process_time()
        judge_candidate(baseline, x, ["human"] * len(x), settings, 0.2, previous=previous)
        print(f"{label:<24}{time.process_time() - t:8.2f} CPU-s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nights", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--skip-runner", action="store_true", help="skip 2c (about 3 minutes)")
    parser.add_argument("--only", choices=["false", "recursive", "topics", "runner", "cost"])
    args = parser.parse_args()
    settings = GateSettings()

    ids, texts = _corpus.docstrings()
    vectors = _corpus.embed(texts, "docstrings")
    order = np.random.default_rng(0).permutation(len(texts))
    n_base = int(len(texts) * 0.4)
    base, tune, held = order[:n_base], order[n_base:n_base + (len(texts) - n_base) // 2], \
        order[n_base + (len(texts) - n_base) // 2:]
    print(f"docstrings: {len(texts)} = baseline {len(base)} + tune {len(tune)} + held-out {len(held)} (seed 0)")
    baseline = pin(vectors[base], [texts[i] for i in base], [ids[i] for i in base], k=16)
    print("clusters:", "; ".join(f"c{c['cluster']} {c['label']}" for c in baseline.clusters))
    for w in baseline.adequacy:
        print("adequacy:", w)

    if args.only in (None, "false"):
        false_blocks(args, settings, baseline, vectors[base], {"tune": vectors[tune], "held-out": vectors[held]})
    if args.only in (None, "recursive"):
        recursive_power(args, settings, baseline, [texts[i] for i in tune])
    if args.only in (None, "topics"):
        topic_narrowing(args, settings)
    if args.only in (None, "runner") and not args.skip_runner:
        accumulate_runner(args)
    if args.only in (None, "cost"):
        cost(settings, baseline, vectors)


if __name__ == "__main__":
    main()
