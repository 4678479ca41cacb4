"""Near-duplicate detection with MinHash LSH over word shingles, against history.

A record is a near duplicate when the estimated Jaccard similarity of its word
n-gram shingle set to an *accepted* record is at least ``minhash_threshold``.
Accepted records are every earlier non-duplicate, across all drops: their
signatures are persisted in DuckDB so tonight's LSH index is rebuilt from
stored signatures instead of re-hashing history.

Table ``minhash_signatures``::

    id VARCHAR PRIMARY KEY, content_hash VARCHAR, num_perm INTEGER,
    shingle_n INTEGER, scheme VARCHAR, hashvalues UBIGINT[]

``scheme`` names the datasketch permutation scheme, hash function and seed
(signatures made any other way are not comparable). Only accepted records are
stored, so a ``duplicate_of`` always points at an accepted record, never at
another duplicate.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import Field

from anchormix.settings_base import Bool, Float, Int, Section

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

TABLE = "minhash_signatures"
_SEED = 1
_SCHEME = "affine32"
# Persisted with every signature: changing any part makes old signatures incomparable.
SCHEME_TAG = f"datasketch-{_SCHEME}/sha1_hash32/seed={_SEED}"

_WORD = re.compile(r"\w+", re.UNICODE)


class SignatureMismatch(RuntimeError):
    """Stored signatures were made with other MinHash parameters than the settings ask for.

    Comparing them would silently give wrong similarities; re-sign history with
    :func:`resign_history` after changing ``num_perm`` or ``shingle_size``.
    """


class NearDedupSettings(Section):
    """The ``[dedup]`` config section (near and semantic duplicates).

    ``minhash_threshold`` (0.8): estimated Jaccard at or above which a record is
    a near duplicate. ``num_perm`` (128): MinHash permutations. ``shingle_size``
    (5): words per shingle. ``semantic_enabled`` (true), ``semantic_tau`` (0.95):
    cosine at or above which two records are semantic duplicates.
    ``semantic_clusters`` (0 = auto, about sqrt(n)), ``semantic_nprobe`` (8):
    k-means clusters and how many nearest clusters each record is searched in.
    """

    minhash_threshold: Float = Field(0.8, gt=0.0, le=1.0)
    num_perm: Int = Field(128, ge=16, le=1024)
    shingle_size: Int = Field(5, ge=1, le=32)
    semantic_enabled: Bool = True
    semantic_tau: Float = Field(0.95, ge=0.5, le=1.0)
    semantic_clusters: Int = Field(0, ge=0)
    semantic_nprobe: Int = Field(8, ge=1)


def shingles(text: str, n: int) -> set[bytes]:
    """Word n-gram shingles of ``text`` (lowercased ``\\w+`` words).

    A text shorter than ``n`` words is one shingle of all its words, so short
    texts still compare; an empty text has no shingles.
    """
    words = _WORD.findall(text.lower())
    if not words:
        return set()
    if len(words) <= n:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i : i + n]).encode("utf-8") for i in range(len(words) - n + 1)}


def _permutations(num_perm: int) -> np.ndarray:
    from datasketch import MinHash

    return MinHash(num_perm=num_perm, seed=_SEED, scheme=_SCHEME).permutations


def signature(text: str, settings: NearDedupSettings, permutations: np.ndarray | None = None):
    """MinHash of ``text``'s shingles, or None for a text without words."""
    from datasketch import MinHash

    grams = shingles(text, settings.shingle_size)
    if not grams:
        return None
    if permutations is None:
        permutations = _permutations(settings.num_perm)
    m = MinHash(num_perm=settings.num_perm, seed=_SEED, scheme=_SCHEME, permutations=permutations)
    m.update_batch(grams)
    return m


def ensure_table(con: "duckdb.DuckDBPyConnection") -> None:
    """Create ``minhash_signatures`` if it does not exist."""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        "id VARCHAR PRIMARY KEY, content_hash VARCHAR NOT NULL, num_perm INTEGER NOT NULL, "
        "shingle_n INTEGER NOT NULL, scheme VARCHAR NOT NULL, hashvalues UBIGINT[] NOT NULL)"
    )


def load_signatures(con: "duckdb.DuckDBPyConnection", settings: NearDedupSettings) -> tuple[list[str], np.ndarray]:
    """All stored accepted signatures as (ids, uint64 matrix ``[n, num_perm]``).

    Raises SignatureMismatch if any stored row was made with other parameters.
    """
    ensure_table(con)
    other = con.execute(
        f"SELECT num_perm, shingle_n, scheme, count(*) FROM {TABLE} "
        "WHERE num_perm <> ? OR shingle_n <> ? OR scheme <> ? GROUP BY ALL LIMIT 1",
        [settings.num_perm, settings.shingle_size, SCHEME_TAG],
    ).fetchone()
    if other is not None:
        raise SignatureMismatch(
            f"{other[3]} stored signatures have num_perm={other[0]}, shingle_n={other[1]}, scheme={other[2]!r}; "
            f"settings ask for num_perm={settings.num_perm}, shingle_n={settings.shingle_size}, "
            f"scheme={SCHEME_TAG!r}. Re-sign history with resign_history()."
        )
    table = con.sql(f"SELECT id, hashvalues FROM {TABLE} ORDER BY id").to_arrow_table()
    ids = table.column("id").to_pylist()
    if not ids:
        return [], np.zeros((0, settings.num_perm), dtype=np.uint64)
    flat = table.column("hashvalues").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return ids, flat.astype(np.uint64, copy=False).reshape(len(ids), settings.num_perm)


def _store(con, rows: list[tuple[str, str, np.ndarray]], settings: NearDedupSettings, replace: bool = False) -> None:
    import pyarrow as pa

    if not rows:
        return
    n, k = len(rows), settings.num_perm
    matrix = np.stack([r[2] for r in rows]).astype(np.uint64)
    offsets = pa.array(np.arange(0, (n + 1) * k, k, dtype=np.int32))
    table = pa.table(
        {
            "id": pa.array([r[0] for r in rows], pa.string()),
            "content_hash": pa.array([r[1] for r in rows], pa.string()),
            "num_perm": pa.array([k] * n, pa.int32()),
            "shingle_n": pa.array([settings.shingle_size] * n, pa.int32()),
            "scheme": pa.array([SCHEME_TAG] * n, pa.string()),
            "hashvalues": pa.ListArray.from_arrays(offsets, pa.array(matrix.reshape(-1))),
        }
    )
    con.register("_anchormix_new_signatures", table)
    try:
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        con.execute(f"{verb} INTO {TABLE} SELECT * FROM _anchormix_new_signatures")
    finally:
        con.unregister("_anchormix_new_signatures")


def _lsh(settings: NearDedupSettings):
    from datasketch import MinHashLSH

    return MinHashLSH(threshold=settings.minhash_threshold, num_perm=settings.num_perm)


def _lean(hashvalues: np.ndarray):
    from datasketch import LeanMinHash

    return LeanMinHash(seed=_SEED, hashvalues=hashvalues.astype(np.uint32), scheme=_SCHEME)


def find_near_duplicates(
    con: "duckdb.DuckDBPyConnection", new: pd.DataFrame, settings: NearDedupSettings
) -> pd.DataFrame:
    """Flag near duplicates in ``new`` against accepted history and earlier rows of ``new``.

    ``new`` has columns ``id``, ``norm_text``, ``content_hash``; its order is
    the priority order (the first of two near-identical new records wins).
    Returns one row per duplicate: ``id``, ``duplicate_of`` (the accepted id with
    the highest estimated Jaccard; ties go to stored history, then the smaller id), and
    ``similarity`` (estimated Jaccard, >= ``minhash_threshold``). Every new
    non-duplicate with at least one word is added to ``minhash_signatures``.

    Idempotent: an id already in the accepted set was decided earlier and is
    never flagged (not even as a duplicate of itself); re-running the same batch
    returns the same rows and stores nothing new. Texts without words are never
    flagged and never stored (exact dedup handles them).
    """
    missing = {"id", "norm_text", "content_hash"} - set(new.columns)
    if missing:
        raise ValueError(f"new records lack columns {sorted(missing)}")
    ensure_table(con)
    hist_ids, hist_values = load_signatures(con, settings)
    accepted = set(hist_ids)
    # Similarity ties go to stored history over this batch, then to the smaller id.
    rank: dict[str, int] = dict.fromkeys(hist_ids, 0)
    values: dict[str, np.ndarray] = dict(zip(hist_ids, hist_values))

    lsh = _lsh(settings)
    with lsh.insertion_session(buffer_size=50_000) as session:
        for i, hv in zip(hist_ids, hist_values):
            session.insert(i, _lean(hv), check_duplication=False)

    perms = _permutations(settings.num_perm)
    out: list[tuple[str, str, float]] = []
    to_store: list[tuple[str, str, np.ndarray]] = []
    seen_new: set[str] = set()
    for rid, text, chash in zip(new["id"].astype(str), new["norm_text"], new["content_hash"]):
        if rid in seen_new:
            raise ValueError(f"id {rid!r} appears twice in the batch")
        seen_new.add(rid)
        if rid in accepted:
            continue
        m = signature(text if isinstance(text, str) else "", settings, perms)
        if m is None:
            continue
        hv = m.hashvalues.astype(np.uint64)
        best: tuple[float, int, str] | None = None
        for cand in lsh.query(m):
            if cand == rid:
                continue
            sim = float(np.mean(values[cand] == hv))
            if sim >= settings.minhash_threshold:
                key = (-sim, rank[cand], cand)
                if best is None or key < best:
                    best = key
        if best is not None:
            out.append((rid, best[2], -best[0]))
            continue
        rank[rid] = 1
        values[rid] = hv
        accepted.add(rid)
        lsh.insert(rid, m, check_duplication=False)
        to_store.append((rid, str(chash), hv))
    _store(con, to_store, settings)
    return pd.DataFrame(out, columns=["id", "duplicate_of", "similarity"]).astype({"similarity": "float64"})


def resign_history(con: "duckdb.DuckDBPyConnection", accepted: pd.DataFrame, settings: NearDedupSettings) -> int:
    """Replace every stored signature with one made under ``settings``.

    ``accepted`` (columns ``id``, ``norm_text``, ``content_hash``) must be the
    whole accepted history; ids not in it are removed. Returns rows stored.
    """
    ensure_table(con)
    perms = _permutations(settings.num_perm)
    rows = []
    for rid, text, chash in zip(accepted["id"].astype(str), accepted["norm_text"], accepted["content_hash"]):
        m = signature(text if isinstance(text, str) else "", settings, perms)
        if m is not None:
            rows.append((rid, str(chash), m.hashvalues.astype(np.uint64)))
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {TABLE}")
        _store(con, rows, settings, replace=True)
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return len(rows)
