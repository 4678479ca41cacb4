"""The ratio-constrained, tail-aware mix sampler (the ``[mix]`` config section).

A mix is drawn from a pool of eligible records under a :class:`MixPolicy`.
The rules, in the order they are applied (see :func:`sample_mix`):

1. **Eligibility.** ``replace`` mode: only rows of the current drop (generation
   k sees only tonight's data, the collapse-prone regime). ``accumulate`` mode
   (default): every row of the pool; human data is accumulated, not replaced
   (Gerstgrasser et al., 2024).
2. **Human first.** Human records (``human_verified``, ``human_presumed``) fill
   the mix up to its size, each source held to its per-source cap. In
   ``accumulate`` mode the order is: previously published human records of
   earlier drops (*kept*), then human records of tonight's drop, then older
   human records never published.

   **Refresh** (``accumulate`` only; without it a full mix keeps its kept
   records forever and nothing new enters). At least
   ``floor(fresh_share * size)`` human slots go to tonight's human records,
   when that many fit their source caps. Kept records hold their caps first;
   when one of tonight's records fits its cap but no slot is free, a kept
   record is *retired*: from the cluster whose count among the kept records
   in the mix is furthest above its baseline share
   (``count - baseline_weight * size``), kept records with no baseline
   cluster (as in rule 3) first, ties to the more common cluster, within a
   cluster the last in seeded order. A protected cluster (the baseline's rare
   tail, passed by the caller) is never retired below its baseline share, so
   the tail is never thinned, yet cannot pile up night after night either
   (fresh records keep arriving in it); when only such records are left,
   fewer fresh slots open. A retirement frees room in its
   source's cap, so a source whose cap is full of kept records lets tonight's
   records in only as its own kept records are retired (the notes name it).
   Retired records are held (``retired_over_represented(cluster=c)``).
   ``fresh_share = 0`` retires nothing: kept records fill first, as before the
   rule existed. Tonight's records count as tonight's even when already
   published, so rebuilding a published night gives the same mix.
3. **Synthetic only where it helps.** Synthetic records (``synthetic_declared``,
   ``synthetic_suspected``) are admitted one at a time into the baseline
   cluster with the largest deficit ``baseline_weight * size - count so far``,
   and only while that deficit is positive: they fill rare cases the human data
   misses, never pad clusters already at or over their baseline share. Records
   with no baseline cluster (``cluster == -1`` or a cluster with zero baseline
   weight) and every synthetic record when no baseline is given are never
   admitted. Ties go to the rarer cluster. At most ``synthetic_cap * size``.
4. **Unknown last**, at most ``unknown_cap * size``.
5. **Shares are of the final size.** When there are too few human records for
   the floor at ``target_size``, the mix shrinks (to the largest size whose
   fill meets every floor and cap) instead of breaking the floor.
6. **Infeasible.** When no non-empty mix meets the policy, the fill at
   ``target_size`` is returned with ``feasible=False`` and the reasons, so the
   ratio gate fails and blocks publishing.

Order within a class is a seeded hash of the id (not Python's ``hash()``, which
is salted per process), so a seed always gives the same mix. Quality scores are
deliberately not used for ranking: the quality stage already filtered, and
ranking by a score would trim the distribution's tails, the first thing
collapse removes.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import AfterValidator, Field, field_validator, model_validator

from anchormix.licenses import normalize_pattern
from anchormix.settings_base import FieldError, Fraction, Int, Section, Str

HUMAN_CLASSES = frozenset({"human_verified", "human_presumed"})
SYNTHETIC_CLASSES = frozenset({"synthetic_declared", "synthetic_suspected"})
UNKNOWN_CLASSES = frozenset({"unknown"})
CLASS_GROUPS: dict[str, frozenset[str]] = {
    "human": HUMAN_CLASSES,
    "synthetic": SYNTHETIC_CLASSES,
    "unknown": UNKNOWN_CLASSES,
}
MODES = ("accumulate", "replace")
POOL_COLUMNS = ("id", "source", "provenance_class", "cluster", "quality_score", "drop", "previously_published")

RETIRED_COLUMNS = ("id", "source", "cluster", "drop", "retired_reason")

# Float shares times sizes (0.3 * 10 = 3.0000000000000004) must not cost a record.
_EPS = 1e-9


def provenance_group(provenance_class: str) -> str:
    """Map a provenance class to ``human``, ``synthetic`` or ``unknown``; raise ValueError otherwise."""
    for group, classes in CLASS_GROUPS.items():
        if provenance_class in classes:
            return group
    raise ValueError(f"unknown provenance class {provenance_class!r}")


class MixPolicy(Section):
    """The ``[mix]`` config section.

    ``human_floor`` (0.5): minimum human share of the final mix.
    ``synthetic_cap`` (0.3), ``unknown_cap`` (0.1): maximum shares.
    ``per_source_caps`` ({}): source -> maximum share of the mix (all classes).
    ``target_size`` (1000): records wanted; the mix may be smaller, never larger.
    ``seed`` (0): order within a class. ``mode``: ``accumulate`` | ``replace``.
    ``fresh_share`` (0.25): in ``accumulate`` mode, the share of the mix's human
    slots offered to tonight's human records, made free by retiring kept
    records of over-represented clusters (module rule 2); 0 never retires.
    ``allowed_licenses`` / ``denied_licenses`` (empty): the license policy, SPDX
    ids or globs (``denied_licenses = ["CC-BY-NC*", "CC-BY-ND*"]`` keeps NC and ND
    terms out of a commercial mix); the ``gx_licenses`` gate enforces it (see
    :func:`anchormix.licenses.license_verdict`).

    Besides types and ranges, a cap that can never be used while the floor
    holds (``synthetic_cap`` or ``unknown_cap`` above ``1 - human_floor``) is
    rejected, naming whichever of the two keys the config set.
    """

    human_floor: Fraction = Field(0.5, description="Minimum human share of the mix")
    synthetic_cap: Fraction = Field(0.3, description="Maximum synthetic share")
    unknown_cap: Fraction = Field(0.1, description="Maximum unknown share")
    per_source_caps: dict[Str, Fraction] = Field(default_factory=dict,
                                                 description="Source -> maximum share of the mix (all classes)")
    target_size: Int = Field(1000, ge=1, description="Records wanted in the mix")
    seed: Int = Field(0, description="Sampler seed (same seed, same mix)")
    mode: Literal["accumulate", "replace"] = Field(
        "accumulate", description="accumulate (keep earlier human records) or replace")
    fresh_share: Fraction = Field(0.25, description="accumulate: share of the mix offered to tonight's human records")
    allowed_licenses: tuple[Annotated[Str, AfterValidator(normalize_pattern)], ...] = Field(
        (), description="SPDX ids or globs a record's license may use (empty: any)")
    denied_licenses: tuple[Annotated[Str, AfterValidator(normalize_pattern)], ...] = Field(
        (), description="SPDX ids or globs no record's license may need, e.g. CC-BY-NC*")

    KEYS: ClassVar[tuple[str, ...]] = (
        "human_floor",
        "synthetic_cap",
        "unknown_cap",
        "per_source_caps",
        "target_size",
        "seed",
        "mode",
        "fresh_share",
        "allowed_licenses",
        "denied_licenses",
    )

    @field_validator("per_source_caps")
    @classmethod
    def _named_sources(cls, caps: dict[str, float]) -> dict[str, float]:
        for source in caps:
            if not source.strip():
                raise FieldError("source name must not be empty", source)
        return caps

    @model_validator(mode="after")
    def _caps_reachable(self) -> "MixPolicy":
        for cap_name in ("synthetic_cap", "unknown_cap"):
            cap = getattr(self, cap_name)
            if cap > 1.0 - self.human_floor + _EPS:
                # Name the key the user actually wrote: a raised floor with a default cap
                # is a floor problem from the user's point of view.
                given = self.model_fields_set
                blamed = cap_name if cap_name in given or "human_floor" not in given else "human_floor"
                raise FieldError(
                    f"{cap_name} {cap} can never be reached while human_floor {self.human_floor} holds "
                    f"(needs {cap_name} <= 1 - human_floor = {1.0 - self.human_floor:.6g})",
                    blamed,
                )
        return self

    def to_dict(self) -> dict[str, Any]:
        """The policy as a JSON/TOML-ready dict that ``MixPolicy.model_validate`` reads back."""
        return {
            "human_floor": self.human_floor,
            "synthetic_cap": self.synthetic_cap,
            "unknown_cap": self.unknown_cap,
            "per_source_caps": dict(self.per_source_caps),
            "target_size": self.target_size,
            "seed": self.seed,
            "mode": self.mode,
            "fresh_share": self.fresh_share,
            "allowed_licenses": list(self.allowed_licenses),
            "denied_licenses": list(self.denied_licenses),
        }


@dataclass
class MixResult:
    """A sampled mix and the explanation of it.

    ``selected``: the pool rows chosen, in admission order, plus ``reason``
    (``kept_previous_human``, ``human_fill``, ``synthetic_targeted_fill(cluster=7)``,
    ``unknown_fill``). ``shares``: human / synthetic / unknown share of the mix.
    ``per_source``: ``source, available, selected, cap`` (share, NaN if none), ``why``, ``cap_records``.
    ``held``: eligible rows not selected with ``held_reason`` (the ``held``
    terminal state), retired records included. ``notes``: why the mix is
    smaller than ``target_size``, which sources a per-source cap held back,
    tonight's human records held because the mix is full, and, when the mix
    adds no record, why. ``added``: selected records not previously
    published. ``retired``: kept records retired to make room for tonight's
    (``id, source, cluster, drop, retired_reason``, e.g.
    ``over_represented(cluster=3)``).
    """

    selected: pd.DataFrame
    shares: dict[str, float]
    per_source: pd.DataFrame
    feasible: bool
    infeasible_reasons: list[str]
    held: pd.DataFrame = field(default_factory=pd.DataFrame)
    target_size: int = 0
    notes: list[str] = field(default_factory=list)
    added: int = 0
    retired: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(RETIRED_COLUMNS)))

    @property
    def size(self) -> int:
        """Number of records in the mix."""
        return len(self.selected)


def seeded_keys(ids: pd.Series | list[str], seed: int) -> np.ndarray:
    """A stable 64-bit sort key per id for ``seed`` (blake2b, identical across processes)."""
    salt = f"{seed}:".encode()
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(salt + str(i).encode(), digest_size=8).digest(), "big") for i in ids),
        dtype=np.uint64,
        count=len(ids),
    )


def _cap_count(share: float, size: int) -> int:
    return int(math.floor(share * size + _EPS))


def _floor_count(share: float, size: int) -> int:
    return int(math.ceil(share * size - _EPS))


@dataclass
class _Pool:
    """The eligible rows as arrays, in seeded order, ready for repeated fills."""

    frame: pd.DataFrame  # eligible rows, positional, seeded order
    group: np.ndarray  # "human" | "synthetic" | "unknown"
    source: np.ndarray
    cluster: np.ndarray
    weights: np.ndarray | None  # normalized baseline weights
    kept_order: np.ndarray  # human positions published before, earlier drops (accumulate only)
    tonight_order: np.ndarray  # human positions of tonight's drop (every human in replace mode)
    older_order: np.ndarray  # human positions of earlier drops, never published
    kept_previous: np.ndarray  # bool per position
    tonight: np.ndarray  # bool per position: row of current_drop
    unknown_order: np.ndarray
    synthetic_by_cluster: dict[int, np.ndarray]
    protected: frozenset[int]


@dataclass
class _Fill:
    size: int  # the size the caps were computed for
    order: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"human": 0, "synthetic": 0, "unknown": 0})
    used: dict[str, int] = field(default_factory=dict)
    cluster_counts: np.ndarray | None = None
    synthetic_budget: int = 0
    unknown_budget: int = 0
    retired: list[int] = field(default_factory=list)
    fresh_quota: int = 0  # floor(fresh_share * size)
    retire_short: int = 0  # fresh slots not opened: only protected kept records were left

    @property
    def n(self) -> int:
        return len(self.order)


def _check_pool(pool: pd.DataFrame) -> None:
    missing = [c for c in POOL_COLUMNS if c not in pool.columns]
    if missing:
        raise ValueError(f"pool is missing columns: {missing}")
    bad = sorted(set(pool["provenance_class"].astype(str)) - set().union(*CLASS_GROUPS.values()))
    if bad:
        raise ValueError(f"pool has unknown provenance classes: {bad}")
    if pool["id"].duplicated().any():
        dupes = pool.loc[pool["id"].duplicated(), "id"].head(5).tolist()
        raise ValueError(f"pool ids must be unique; duplicated: {dupes}")


def _normalize_weights(baseline_weights: np.ndarray | None) -> np.ndarray | None:
    if baseline_weights is None:
        return None
    w = np.asarray(baseline_weights, dtype=np.float64)
    if w.ndim != 1:
        raise ValueError(f"baseline_weights must be 1-D, got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("baseline_weights must be finite and >= 0")
    total = w.sum()
    # Accept raw baseline histograms as well as shares.
    return w / total if total > 0 else None


def _prepare(
    pool: pd.DataFrame,
    policy: MixPolicy,
    weights: np.ndarray | None,
    current_drop: str,
    protected: frozenset[int] = frozenset(),
) -> _Pool:
    if policy.mode == "replace":
        eligible = pool[pool["drop"].astype(str) == str(current_drop)]
    else:
        eligible = pool
    keys = seeded_keys(eligible["id"].astype(str).tolist(), policy.seed)
    # Ties on the 64-bit key are practically impossible, but the id breaks them deterministically.
    order = np.lexsort((eligible["id"].astype(str).to_numpy(), keys))
    frame = eligible.iloc[order]
    group = np.array([provenance_group(c) for c in frame["provenance_class"].astype(str)], dtype=object)
    source = frame["source"].astype(str).to_numpy(dtype=object)
    cluster = frame["cluster"].fillna(-1).astype(np.int64).to_numpy()
    previous = frame["previously_published"].fillna(False).astype(bool).to_numpy()
    positions = np.arange(len(frame))

    tonight = (frame["drop"].astype(str) == str(current_drop)).to_numpy()
    human = group == "human"
    if policy.mode == "accumulate":
        kept_previous = human & previous
        # Tonight's published records (a rebuild after publishing) stay tonight's, so a
        # rebuild retires the same kept records and yields the same mix.
        kept_order = positions[kept_previous & ~tonight]
        tonight_order = positions[human & tonight]
        older_order = positions[human & ~tonight & ~previous]
    else:
        kept_previous = np.zeros(len(frame), bool)
        kept_order = older_order = positions[:0]
        tonight_order = positions[human]

    synthetic_by_cluster: dict[int, np.ndarray] = {}
    if weights is not None:
        syn = positions[group == "synthetic"]
        for c in np.unique(cluster[syn]):
            if 0 <= c < len(weights) and weights[c] > 0:
                synthetic_by_cluster[int(c)] = syn[cluster[syn] == c]
    return _Pool(
        frame=frame,
        group=group,
        source=source,
        cluster=cluster,
        weights=weights,
        kept_order=kept_order,
        tonight_order=tonight_order,
        older_order=older_order,
        kept_previous=kept_previous,
        tonight=tonight,
        unknown_order=positions[group == "unknown"],
        synthetic_by_cluster=synthetic_by_cluster,
        protected=protected,
    )


def _has_baseline_cluster(weights: np.ndarray | None, c: int) -> bool:
    return weights is not None and 0 <= c < len(weights) and weights[c] > 0


def _plan_refresh(p: _Pool, policy: MixPolicy, size: int, caps: dict[str, int], f: _Fill) -> list[int]:
    """The kept records that enter a mix of ``size``, after retiring room for tonight's (rule 2).

    Sets ``f.retired``, ``f.fresh_quota`` and ``f.retire_short``.
    """
    used: dict[str, int] = {}

    def fits(pos: int) -> bool:
        src = p.source[pos]
        return src not in caps or used.get(src, 0) < caps[src]

    def use(pos: int, k: int) -> None:
        used[p.source[pos]] = used.get(p.source[pos], 0) + k

    kept = []
    for pos in p.kept_order:
        if len(kept) >= size:
            break
        if fits(int(pos)):
            kept.append(int(pos))
            use(int(pos), 1)
    f.fresh_quota = _cap_count(policy.fresh_share, size)
    if f.fresh_quota == 0 or not kept:
        return kept
    victims = _Retirement(p, kept, size)
    taken: set[int] = set()
    fresh = 0
    # A record is retired only when one of tonight's records that fits its cap needs the
    # slot, so no kept record is retired for a record a cap would hold anyway. Retiring
    # from a capped source may let in a record of tonight skipped earlier: hence passes.
    again = True
    while again and fresh < f.fresh_quota:
        again = skipped = freed = False
        for pos in map(int, p.tonight_order):
            if fresh >= f.fresh_quota:
                break
            if pos in taken:
                continue
            if not fits(pos):
                skipped = True
                continue
            if len(kept) - len(f.retired) + fresh >= size:
                victim = victims.next()
                if victim is None:
                    waiting = sum(1 for q in map(int, p.tonight_order) if q not in taken and fits(q))
                    f.retire_short = min(f.fresh_quota - fresh, waiting)
                    break
                f.retired.append(victim)
                use(victim, -1)
                freed = freed or p.source[victim] in caps
            taken.add(pos)
            use(pos, 1)
            fresh += 1
        again = skipped and freed and not f.retire_short
    gone = set(f.retired)
    return [pos for pos in kept if pos not in gone]


class _Retirement:
    """Kept records in retirement order: most over-represented cluster first, a protected one never below its share.

    Over-representation is ``count - baseline_weight * size`` among the kept
    records in the mix; records with no baseline cluster come before every
    cluster, ties go to the more common cluster, and within a cluster the last
    in seeded order goes first (``kept`` is in seeded order).
    """

    _NO_CLUSTER = -1  # one bucket for every record without a baseline cluster

    def __init__(self, p: _Pool, kept: list[int], size: int) -> None:
        self.weights = p.weights
        self.size = size
        self.buckets: dict[int, list[int]] = {}
        self.protected = p.protected
        for pos in kept:
            c = int(p.cluster[pos])
            key = c if _has_baseline_cluster(p.weights, c) else self._NO_CLUSTER
            self.buckets.setdefault(key, []).append(pos)
        self.heap = [self._entry(c) for c in self.buckets]
        heapq.heapify(self.heap)

    def _entry(self, c: int) -> tuple[int, float, float, int]:
        if c == self._NO_CLUSTER or self.weights is None:
            return (0, 0.0, 0.0, c)
        w = float(self.weights[c])
        return (1, -(len(self.buckets[c]) - w * self.size), -w, c)

    def next(self) -> int | None:
        """The next record to retire, or None when only protected records are left."""
        while self.heap:
            c = heapq.heappop(self.heap)[-1]
            if c in self.protected and (self.weights is None or len(self.buckets[c]) <= self.weights[c] * self.size
                                        + _EPS):
                continue  # a rare cluster gives up records only while it is above its baseline share
            break
        else:
            return None
        pos = self.buckets[c].pop()
        if self.buckets[c]:
            heapq.heappush(self.heap, self._entry(c))
        return pos


def _fill(p: _Pool, policy: MixPolicy, size: int) -> _Fill:
    """Greedy fill for a mix of ``size`` records: human, then targeted synthetic, then unknown."""
    f = _Fill(size=size)
    caps = {s: _cap_count(c, size) for s, c in policy.per_source_caps.items()}

    def room(src: str) -> bool:
        return src not in caps or f.used.get(src, 0) < caps[src]

    def admit(pos: int, group: str, reason: str) -> None:
        f.order.append(pos)
        f.reasons.append(reason)
        f.counts[group] += 1
        f.used[p.source[pos]] = f.used.get(p.source[pos], 0) + 1

    for pos in _plan_refresh(p, policy, size, caps, f):
        admit(pos, "human", "kept_previous_human")
    for pos in np.concatenate([p.tonight_order, p.older_order]):
        if f.n >= size:
            break
        if room(p.source[pos]):
            admit(int(pos), "human", "kept_previous_human" if p.kept_previous[pos] else "human_fill")

    f.synthetic_budget = min(_cap_count(policy.synthetic_cap, size), size - f.n)
    if p.weights is not None and f.synthetic_budget > 0:
        k = len(p.weights)
        counts = np.zeros(k, dtype=np.int64)
        chosen_clusters = p.cluster[f.order] if f.order else np.zeros(0, np.int64)
        in_range = chosen_clusters[(chosen_clusters >= 0) & (chosen_clusters < k)]
        np.add.at(counts, in_range, 1)
        cursor = {c: 0 for c in p.synthetic_by_cluster}
        heap = [(-(p.weights[c] * size - counts[c]), p.weights[c], c) for c in p.synthetic_by_cluster]
        heapq.heapify(heap)
        admitted = 0
        while heap and admitted < f.synthetic_budget:
            neg_deficit, w, c = heapq.heappop(heap)
            if -neg_deficit <= _EPS:
                break  # every remaining cluster is at or over its baseline share
            candidates = p.synthetic_by_cluster[c]
            i = cursor[c]
            while i < len(candidates) and not room(p.source[candidates[i]]):
                i += 1  # a full source stays full: these records are skipped for good
            if i >= len(candidates):
                continue
            cursor[c] = i + 1
            admit(int(candidates[i]), "synthetic", f"synthetic_targeted_fill(cluster={c})")
            admitted += 1
            counts[c] += 1
            heapq.heappush(heap, (-(p.weights[c] * size - counts[c]), w, c))
        f.cluster_counts = counts

    f.unknown_budget = min(_cap_count(policy.unknown_cap, size), size - f.n)
    taken = 0
    for pos in p.unknown_order:
        if taken >= f.unknown_budget:
            break
        if room(p.source[pos]):
            admit(int(pos), "unknown", "unknown_fill")
            taken += 1
    return f


def _violations(f: _Fill, policy: MixPolicy) -> list[str]:
    """Every floor or cap the filled mix breaks, measured against its actual size."""
    n = f.n
    if n == 0:
        return ["empty mix"]
    out = []
    h, s, u = f.counts["human"], f.counts["synthetic"], f.counts["unknown"]
    if h < _floor_count(policy.human_floor, n):
        out.append(f"human share {h / n:.3f} < human_floor {policy.human_floor} ({h} of {n} records)")
    if s > _cap_count(policy.synthetic_cap, n):
        out.append(f"synthetic share {s / n:.3f} > synthetic_cap {policy.synthetic_cap} ({s} of {n} records)")
    if u > _cap_count(policy.unknown_cap, n):
        out.append(f"unknown share {u / n:.3f} > unknown_cap {policy.unknown_cap} ({u} of {n} records)")
    for src, cap in sorted(policy.per_source_caps.items()):
        used = f.used.get(src, 0)
        if used > _cap_count(cap, n):
            out.append(f"source {src!r} share {used / n:.3f} > per_source_caps.{src} {cap} ({used} of {n} records)")
    return out


def _search(p: _Pool, policy: MixPolicy) -> tuple[_Fill, bool, list[str]]:
    """Largest size whose fill meets the policy at its own size.

    Each step jumps down to the most the current fill can support (its actual
    size, and the size its human count can hold at the floor); sizes in
    between cannot be filled either, since a smaller size only tightens caps.
    """
    first = _fill(p, policy, policy.target_size)
    f = first
    while True:
        problems = _violations(f, policy)
        if not problems:
            return f, True, []
        limit = min(f.size - 1, f.n)
        if policy.human_floor > 0:
            limit = min(limit, int(math.floor(f.counts["human"] / policy.human_floor + _EPS)))
        if limit < 1:
            break
        f = _fill(p, policy, limit)
    return first, False, _infeasible_reasons(p, policy, first)


def _infeasible_reasons(p: _Pool, policy: MixPolicy, f: _Fill) -> list[str]:
    reasons = ["no non-empty mix meets the policy; returning the fill at target_size"]
    if len(p.frame) == 0:
        reasons.append(f"no eligible records (mode={policy.mode})")
    else:
        n_h = int((p.group == "human").sum())
        reasons.append(f"{n_h} human records eligible of {len(p.frame)} (mode={policy.mode})")
    capped = set(policy.per_source_caps)
    if capped and capped >= set(p.source) and len(p.frame):
        total = sum(policy.per_source_caps.get(s, 0.0) for s in set(p.source))
        if total < 1.0 - _EPS:
            reasons.append(f"every eligible source is capped and the caps sum to {total:.3f} < 1")
    return reasons + [v for v in _violations(f, policy) if v != "empty mix"]


def _held_reasons(p: _Pool, policy: MixPolicy, f: _Fill) -> pd.Series:
    """Why each eligible, unselected row was left out (its ``held`` reason), by position."""
    chosen = np.zeros(len(p.frame), dtype=bool)
    chosen[f.order] = True
    caps = {s: _cap_count(c, f.size) for s, c in policy.per_source_caps.items()}
    full_sources = {s for s, c in caps.items() if f.used.get(s, 0) >= c}
    synthetic_full = f.counts["synthetic"] >= _cap_count(policy.synthetic_cap, f.size)
    unknown_full = f.counts["unknown"] >= _cap_count(policy.unknown_cap, f.size)
    held_positions = np.flatnonzero(~chosen)
    retired = set(f.retired)
    reasons = []
    for pos in held_positions:
        group, src = p.group[pos], p.source[pos]
        if pos in retired:
            reasons.append(f"retired_over_represented(cluster={int(p.cluster[pos])})")
        elif src in full_sources:
            reasons.append(f"source_cap({src})")
        elif group == "human":
            reasons.append("mix_full")
        elif group == "synthetic":
            reasons.append(_synthetic_held_reason(p, f, int(pos), synthetic_full))
        else:
            reasons.append("unknown_cap" if unknown_full else "mix_full")
    return pd.Series(reasons, index=held_positions, dtype=object)


def _synthetic_held_reason(p: _Pool, f: _Fill, pos: int, synthetic_full: bool) -> str:
    if p.weights is None:
        return "no_baseline"
    c = int(p.cluster[pos])
    if c not in p.synthetic_by_cluster:
        return "no_baseline_cluster"
    if f.cluster_counts is not None and f.cluster_counts[c] >= p.weights[c] * f.size - _EPS:
        return f"cluster_at_baseline_share(cluster={c})"
    return "synthetic_cap" if synthetic_full else "mix_full"


def _per_source(p: _Pool, policy: MixPolicy, f: _Fill, held: pd.Series) -> pd.DataFrame:
    available = pd.Series(p.source, dtype=object).value_counts()
    selected = pd.Series(p.source[f.order] if f.order else [], dtype=object).value_counts()
    held_by_source = (
        pd.DataFrame({"source": p.source[held.index], "reason": held.to_numpy()})
        .groupby(["source", "reason"])
        .size()
        if len(held)
        else pd.Series(dtype=np.int64)
    )
    rows = []
    for src in sorted(available.index):
        n_avail, n_sel = int(available[src]), int(selected.get(src, 0))
        cap = policy.per_source_caps.get(src)
        cap_records = _cap_count(cap, f.size) if cap is not None else None
        if n_sel == n_avail:
            why = "all eligible records selected"
        else:
            parts = [f"{int(n)} {reason}" for reason, n in held_by_source.loc[src].items()]
            why = f"{n_sel} of {n_avail} selected; held: " + ", ".join(parts)
        if cap is not None:
            why += f"; cap {cap} = {cap_records} records at size {f.size}"
        rows.append(
            {
                "source": src,
                "available": n_avail,
                "selected": n_sel,
                "cap": float(cap) if cap is not None else float("nan"),
                "why": why,
                "cap_records": cap_records,
            }
        )
    return pd.DataFrame(rows, columns=["source", "available", "selected", "cap", "why", "cap_records"])


def sample_mix(
    pool: pd.DataFrame,
    policy: MixPolicy,
    baseline_weights: np.ndarray | None,
    current_drop: str,
    *,
    protected_clusters: Iterable[int] | None = None,
) -> MixResult:
    """Sample a mix from ``pool`` under ``policy`` (rules in this module's docstring).

    ``pool`` columns: ``id, source, provenance_class, cluster`` (baseline
    cluster, -1 if none), ``quality_score, drop`` (YYYY-MM-DD),
    ``previously_published``. ``baseline_weights``: the baseline's cluster
    shares (or raw histogram; it is normalized); ``None`` admits no synthetic
    record, since there is nothing to target. ``current_drop``: tonight's drop,
    the only one eligible in ``replace`` mode. ``protected_clusters``: baseline
    clusters whose kept records are never retired (the rare tail, e.g.
    :func:`anchormix.diversity.tail_clusters`). Deterministic for
    ``policy.seed``.
    """
    _check_pool(pool)
    protected = frozenset(int(c) for c in protected_clusters) if protected_clusters is not None else frozenset()
    p = _prepare(pool, policy, _normalize_weights(baseline_weights), current_drop, protected)
    f, feasible, reasons = _search(p, policy)
    selected = p.frame.iloc[f.order].copy()
    selected["reason"] = f.reasons
    selected = selected.reset_index(drop=True)
    n = f.n
    shares = {g: (f.counts[g] / n if n else 0.0) for g in ("human", "synthetic", "unknown")}
    held_reasons = _held_reasons(p, policy, f)
    held = p.frame.iloc[held_reasons.index][["id", "source", "provenance_class", "cluster", "drop"]].copy()
    held["held_reason"] = held_reasons.to_numpy()
    retired = p.frame.iloc[f.retired][["id", "source", "cluster", "drop"]].copy()
    retired["retired_reason"] = [f"over_represented(cluster={int(p.cluster[pos])})" for pos in f.retired]
    added = int((~selected["previously_published"].fillna(False).astype(bool)).sum())
    notes = []
    if feasible and n < policy.target_size:
        n_h = int((p.group == "human").sum())
        if f.size > n:
            why = (f"every record that may enter did: {len(p.frame)} eligible ({policy.mode}), of which the synthetic "
                   "ones only fill under-represented baseline clusters")
        else:
            why = (f"the largest size meeting the floors and caps with {n_h} eligible human records "
                   f"(human_floor {policy.human_floor})")
        notes.append(f"mix has {n} of target {policy.target_size} records: {why}")
    notes += _cap_notes(p, policy, held_reasons)
    notes += _refresh_notes(p, policy, f, held_reasons, added, current_drop)
    return MixResult(
        selected=selected,
        shares=shares,
        per_source=_per_source(p, policy, f, held_reasons),
        feasible=feasible,
        infeasible_reasons=reasons,
        held=held.reset_index(drop=True),
        target_size=policy.target_size,
        notes=notes,
        added=added,
        retired=retired.reset_index(drop=True)[list(RETIRED_COLUMNS)],
    )


def _cap_notes(p: _Pool, policy: MixPolicy, held: pd.Series) -> list[str]:
    """One note per source whose cap held records back, so a frozen source is visible."""
    notes = []
    for src in sorted(policy.per_source_caps):
        n_held = int((held == f"source_cap({src})").sum())
        if n_held:
            notes.append(
                f"source {src}: {n_held} records held by per_source_caps.{src} = {policy.per_source_caps[src]}; "
                "raise the cap or add other sources"
            )
    return notes


def _refresh_notes(
    p: _Pool, policy: MixPolicy, f: _Fill, held: pd.Series, added: int, current_drop: str
) -> list[str]:
    """Why tonight's human records stayed out, and why a mix adds nothing (rule 2)."""
    notes = []
    accumulate = policy.mode == "accumulate"
    tonight_held = held[(p.group[held.index] == "human") & p.tonight[held.index]]
    n_full = int((tonight_held == "mix_full").sum())
    if n_full:
        text = f"{n_full} human records of tonight's drop {current_drop} held because the mix is full at {f.size}"
        if accumulate:
            chosen = np.asarray(f.order, dtype=np.int64)
            n_kept = int((p.kept_previous[chosen] & ~p.tonight[chosen]).sum())
            n_tonight = int((p.tonight[chosen] & (p.group[chosen] == "human")).sum())
            text += (
                f": {n_kept} slots kept by previously published records, {n_tonight} taken by tonight's "
                f"(fresh_share {policy.fresh_share} offers at least {f.fresh_quota})"
            )
        notes.append(text)
    if f.retire_short:
        notes.append(
            f"{f.retire_short} fresh slots not opened: the remaining previously published records in the mix "
            "are in protected clusters, which are never retired"
        )
    if added == 0:
        notes.append("the mix adds no record not published before: " + _why_nothing_added(p, policy, f, tonight_held))
    return notes


def _why_nothing_added(p: _Pool, policy: MixPolicy, f: _Fill, tonight_held: pd.Series) -> str:
    tonight_humans = p.tonight & (p.group == "human")
    if not tonight_humans.any():
        return "no eligible human record in tonight's drop"
    if f.order and tonight_humans[f.order].any():
        return "tonight's human records in the mix were published already (a rebuild of a published night)"
    if policy.mode == "accumulate" and policy.fresh_share == 0:
        return "fresh_share is 0, so previously published human records keep every slot"
    if policy.mode == "accumulate" and f.fresh_quota == 0:
        return f"fresh_share {policy.fresh_share} of a {f.size}-record mix rounds down to 0 fresh slots"
    if len(tonight_held) and tonight_held.str.startswith("source_cap(").all():
        return "every human record of tonight's drop is held by a per-source cap"
    if f.retire_short and not f.retired:
        return "the previously published records in the mix are all in protected clusters, which are never retired"
    counts = tonight_held.value_counts()
    return "tonight's human records were held: " + ", ".join(f"{int(k)} {r}" for r, k in counts.items())
