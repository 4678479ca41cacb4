"""The tail probe set: held-out human records of the baseline's rare clusters, never in a training mix.

Collapse takes the tails first, so a model team needs test text from the
tails that its model never trained on. Each candidate withholds a few human
records of every rare baseline cluster from the mix sampler; the published
generation ships them as ``probes/probes.parquet`` with their cluster labels.

The choice is stable from one generation to the next, so a model's loss on
the same probes can be followed across generations:

1. a record is a probe candidate when it is human, eligible, in a rare
   baseline cluster and was **never published** (a record a model saw in an
   earlier generation is no held-out probe);
2. last generation's probes that are still candidates stay probes first; new
   ones fill the rest, in a seeded hash order of the id, independent of the
   mix sampler's (the same seed always picks the same records);
3. at most ``probe_per_cluster`` per cluster, and at most
   ``probe_cluster_share`` of the cluster's eligible human records (rounded
   down), so the mix keeps enough of the tail that its gates test; at most
   ``probe_max`` in all, shared round-robin from the rarest cluster up;
4. a probe that leaves the set (a lower cap, ``probe_max`` shared anew, a
   replace night) is never trained on afterwards: model teams keep scoring the
   old probe files, so every record ever in a published probe set (by id or
   content hash) stays out of the mix for good, ``held`` as a former tail probe
   (:func:`anchormix.stages.mix.former_probe`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from anchormix.mix import HUMAN_CLASSES, seeded_keys

PROBE_COLUMNS = ("id", "cluster", "kept")


def select_probes(pool: pd.DataFrame, tail: Sequence[int], *, per_cluster: int, max_total: int,
                  cluster_share: float, seed: int = 0, previous: Iterable[str] = (),
                  ever_published: Iterable[str] = ()) -> pd.DataFrame:
    """The probe records of one candidate: ``id, cluster, kept`` (kept: a probe of the previous generation).

    ``pool``: eligible records with ``id, provenance_class, cluster``;
    ``tail``: the rare baseline clusters, rarest first; ``previous``: the
    previous generation's probe ids; ``ever_published``: ids any generation
    published. See the module docstring for the rule.
    """
    empty = pd.DataFrame({"id": pd.Series(dtype=str), "cluster": pd.Series(dtype="int64"),
                          "kept": pd.Series(dtype=bool)})
    if per_cluster <= 0 or max_total <= 0 or pool.empty or not len(tail):
        return empty
    human = pool[pool["provenance_class"].isin(HUMAN_CLASSES)]
    published, before = set(ever_published), set(previous)
    per_tail: list[list[tuple[str, bool]]] = []
    for c in tail:
        members = human[human["cluster"] == int(c)]
        quota = min(per_cluster, math.floor(cluster_share * len(members) + 1e-9))
        free = members[~members["id"].isin(published)]
        if quota <= 0 or free.empty:
            per_tail.append([])
            continue
        ids = free["id"].astype(str).to_numpy()
        kept = np.isin(ids, list(before))
        # Previous probes first, then a seeded order of its own: under the mix sampler's order (the same hash
        # of the bare id) the probes would be exactly the rare records the sampler takes first.
        keys = seeded_keys([f"probe:{i}" for i in ids], seed)
        order = np.lexsort((ids, keys, ~kept))
        per_tail.append([(ids[i], bool(kept[i])) for i in order[:quota]])
    chosen: list[tuple[str, int, bool]] = []
    for depth in range(max((len(p) for p in per_tail), default=0)):
        for c, picks in zip(tail, per_tail):
            if depth < len(picks) and len(chosen) < max_total:
                chosen.append((picks[depth][0], int(c), picks[depth][1]))
    if not chosen:
        return empty
    return pd.DataFrame(chosen, columns=list(PROBE_COLUMNS))


def probe_summary(probes: pd.DataFrame, clusters: Sequence[dict] = ()) -> dict:
    """Counts for reports: records, clusters, kept from the previous generation, records per cluster by name."""
    from anchormix.cluster_labels import cluster_name

    per = probes.groupby("cluster").size() if len(probes) else pd.Series(dtype=int)
    return {"records": int(len(probes)), "clusters": int(len(per)),
            "kept_from_previous": int(probes["kept"].sum()) if len(probes) else 0,
            "per_cluster": {cluster_name(list(clusters), int(c)): int(n) for c, n in per.items()}}
