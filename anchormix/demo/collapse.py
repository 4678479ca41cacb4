"""The collapse demonstration: successive recursive generations as nightly drops.

Drop 0 holds real human text (standard-library docstrings) and generation 1 of
the Markov generator trained on it. Drop k holds only generation k+1, trained on
generation k's output alone (Shumailov's *replace* setting). The same drops are
curated under two mix policies:

- *replace*: each night's mix is built from that night's drop only, with no human
  floor, so only the diversity gates stand between collapse and publication;
- *accumulate* (the default policy): earlier human records stay in the pool.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from anchormix.demo.docstrings import harvest_stdlib
from anchormix.demo.markov import recursive_generations

REGISTRY = """
[sources.python-stdlib]
kind = "licensed_human_archive"
license = "PSF-2.0"
trust_tier = "high"

[sources.markov-generator]
kind = "generator"
license = "Apache-2.0"
trust_tier = "high"
"""


@dataclass
class CollapseDrops:
    drops: list[str]
    generation_of_drop: dict[str, int]


def write_collapse_inbox(inbox: Path, registry: Path, generations: int = 5, per_generation: int = 300,
                         n_human: int = 400, seed: int = 3, start: date = date(2026, 3, 1),
                         fresh_human_per_night: int = 0) -> CollapseDrops:
    """Write drop 0 (humans + generation 1) and drops 1..n-1 (generations 2..n) plus a registry.

    ``fresh_human_per_night`` adds that many docstrings never seen before to each later drop, as a team
    that keeps collecting human data would; the generator still trains only on its own previous output.
    """
    docs = harvest_stdlib()
    random.Random(seed).shuffle(docs)
    human = [d.text for d in docs[:n_human]]
    gens = recursive_generations(human, generations=generations, per_generation=per_generation, seed=seed)
    registry.parent.mkdir(parents=True, exist_ok=True)
    registry.write_text(REGISTRY)
    drops, generation_of = [], {}
    for k, batch in enumerate(gens):
        drop = (start + timedelta(days=k)).isoformat()
        fetched = f"{drop}T01:00:00+00:00"
        rows = [{"id": f"g{k + 1}-{i:04d}", "url": f"generator://markov/g{k + 1}/{i}", "fetched_at": fetched,
                 "text": t, "source": "markov-generator", "metadata": {"generation": k + 1}}
                for i, t in enumerate(batch)]
        if k == 0:
            rows += [{"id": f"h-{i:04d}", "url": f"https://docs.python.org/3/#{i}", "fetched_at": fetched,
                      "text": t, "source": "python-stdlib"} for i, t in enumerate(human)]
        elif fresh_human_per_night:
            lo = n_human + (k - 1) * fresh_human_per_night
            fresh = [d.text for d in docs[lo:lo + fresh_human_per_night]]
            rows += [{"id": f"h{k}-{i:04d}", "url": f"https://docs.python.org/3/#n{k}-{i}", "fetched_at": fetched,
                      "text": t, "source": "python-stdlib"} for i, t in enumerate(fresh)]
        folder = inbox / drop
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "drop.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        drops.append(drop)
        generation_of[drop] = k + 1
    return CollapseDrops(drops, generation_of)


def collapse_settings(root: Path, mode: str):
    """Settings for one policy, with every path under ``root``."""
    from anchormix.config import load_settings

    text = (
        '[paths]\ninbox = "inbox"\nstore = "store.duckdb"\npublished = "published"\nregistry = "sources.toml"\n'
        'models = "models"\nbaseline = "baseline"\nruns = "runs"\n'
        "[diversity]\nbaseline_clusters = 16\n"
        "[mix]\ntarget_size = 300\n"
    )
    if mode == "replace":
        # No human floor: only the diversity gates stand between collapse and publication.
        text += 'mode = "replace"\nhuman_floor = 0.0\nsynthetic_cap = 1.0\nunknown_cap = 1.0\n'
    elif mode == "accumulate":
        # A larger mix than the human pool alone can fill, so synthetic records are admitted too.
        text = text.replace("target_size = 300", "target_size = 500")
        text += 'mode = "accumulate"\nhuman_floor = 0.5\nsynthetic_cap = 0.3\n'
    else:
        raise ValueError(f"mode must be replace or accumulate, got {mode!r}")
    root.mkdir(parents=True, exist_ok=True)
    (root / "anchormix.toml").write_text(text)
    return load_settings(root / "anchormix.toml")


def run_collapse(root: Path, mode: str, generations: int = 5, fresh_human_per_night: int = 0) -> dict[int, dict]:
    """Curate every generation's drop under ``mode``; returns runner results by generation."""
    from anchormix.runner import curate_drop, pin_baseline, run_drop
    from anchormix.store import connect_store, init_schema

    settings = collapse_settings(root, mode)
    drops = write_collapse_inbox(settings.paths.inbox, settings.paths.registry, generations=generations,
                                 fresh_human_per_night=fresh_human_per_night)
    results = {}
    with connect_store(settings.paths.store) as con:
        init_schema(con)
        curate_drop(con, drops.drops[0], settings)
        pin_baseline(con, drops.drops[0], settings)
        for drop in drops.drops:
            results[drops.generation_of_drop[drop]] = run_drop(con, drop, settings)
    return results
