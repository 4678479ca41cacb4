"""Near-duplicate detection with MinHash LSH over word shingles, against history.

A record is a near duplicate when the estimated Jaccard similarity of its word
n-gram shingle set to an *accepted* record is at least ``minhash_threshold``.
Accepted records are every earlier non-duplicate, across all drops: their
signatures and their LSH band keys are persisted in DuckDB, and tonight's
candidates come from a join of tonight's band keys with the stored ones, so the
work follows the size of the drop, not of history.

Table ``minhash_signatures``::

    id VARCHAR PRIMARY KEY, content_hash VARCHAR, num_perm INTEGER,
    shingle_n INTEGER, scheme VARCHAR, hashvalues UBIGINT[]

``scheme`` names the datasketch permutation scheme, hash function and seed
(signatures made any other way are not comparable). Only accepted records are
stored, so a ``duplicate_of`` always points at an accepted record, never at
another duplicate.

Signing is per record and deciding is global. :func:`signature_matrix` signs a
batch of texts at once, bit for bit the datasketch ``MinHash`` of each text's
shingles (the same permutations, ``sha1_hash32`` of the same shingles), with the
permutation step vectorised over the batch; the nightly stage runs it on the
engine (:data:`anchormix.stages.dedup.SIGNATURES`). :func:`decide_near_duplicates`
takes the signed batch on the driver: band-key joins in DuckDB, Jaccard checks,
and the accepted signatures stored. :func:`find_near_duplicates` is both in one
call, signing each text with :func:`signature`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import Field

from anchormix.settings_base import Bool, Float, Int, Section
from anchormix.store_writes import as_arrow, insert_rows, registered, settle, transaction

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

TABLE = "minhash_signatures"
BANDS = "minhash_bands"
_SEED = 1
_SCHEME = "affine32"
# Persisted with every signature: changing any part makes old signatures incomparable.
SCHEME_TAG = f"datasketch-{_SCHEME}/sha1_hash32/seed={_SEED}"

_WORD = re.compile(r"\w+", re.UNICODE)


class SignatureMismatch(RuntimeError):
    """Stored signatures were made with other MinHash parameters than the settings ask for.

    Comparing them would silently give wrong similarities; re-sign history with
    ``anchormix resign-minhash`` (:func:`resign_history`) after changing
    ``num_perm`` or ``shingle_size``.
    """


class NearDedupSettings(Section):
    """The ``[dedup]`` config section (near and semantic duplicates).

    ``minhash_threshold`` (0.8): estimated Jaccard at or above which a record is
    a near duplicate. ``num_perm`` (128): MinHash permutations. ``shingle_size``
    (5): words per shingle. ``semantic_enabled`` (true), ``semantic_tau`` (0.95):
    cosine at or above which two records are semantic duplicates.
    ``semantic_clusters`` (0 = auto, one per 100 records), ``semantic_nprobe`` (8):
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


@lru_cache(maxsize=4)
def _shared_permutations(num_perm: int) -> np.ndarray:
    perms = _permutations(num_perm)
    perms.setflags(write=False)
    return perms


# Shingles per permutation step of signature_matrix: a [8192, num_perm] uint32 block stays in cache.
_CHUNK_SHINGLES = 1 << 13


def signature_matrix(texts: Sequence[str | None], settings: NearDedupSettings) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures of ``texts``: ``(uint64 [n, num_perm], bool [n])``, the mask False for a text without words.

    Row ``i`` equals ``signature(texts[i], settings).hashvalues`` bit for bit: each
    shingle is hashed with ``sha1_hash32`` (the first four bytes of its SHA-1,
    little-endian) and mixed with datasketch's ``_fmix``, and the affine
    permutations, applied to all shingles of many texts at once in uint32, are
    reduced to each text's minimum (a repeated shingle cannot change a minimum,
    so shingles are not deduplicated). A row without words is left at the
    largest uint32 and masked out. About 1.7x faster than one ``MinHash`` per
    text on docstrings (``bench/minhash_signatures.py``).
    """
    from datasketch.minhash import _fmix

    a, b = _shared_permutations(settings.num_perm)
    n, sha1, find = settings.shingle_size, hashlib.sha1, _WORD.findall
    counts, digests = [], []
    for text in texts:
        words = find(text.lower()) if isinstance(text, str) else []
        k = len(words) - n + 1
        if k <= 1:  # as shingles(): a text of at most n words is one shingle
            grams = [" ".join(words).encode("utf-8")] if words else []
        else:
            grams = [" ".join(words[i : i + n]).encode("utf-8") for i in range(k)]
        counts.append(len(grams))
        digests.append(b"".join([sha1(g).digest() for g in grams]))
    counts = np.asarray(counts, dtype=np.int64)
    out = np.full((len(counts), len(a)), np.iinfo(np.uint32).max, dtype=np.uint32)
    # SHA-1 digests are 20 bytes: the first little-endian uint32 of each is sha1_hash32.
    hv = _fmix(np.frombuffer(b"".join(digests), dtype="<u4")[::5].astype(np.uint32), 32)
    rows = np.flatnonzero(counts)
    starts = np.concatenate([[0], np.cumsum(counts[rows])])
    lo = 0
    while lo < len(rows):  # consecutive texts whose shingles fit one block (a longer text is a block alone)
        hi = max(lo + 1, int(np.searchsorted(starts, starts[lo] + _CHUNK_SHINGLES, side="right")) - 1)
        block = hv[starts[lo] : starts[hi], None] * a + b  # uint32 arithmetic wraps, as datasketch's does
        out[rows[lo:hi]] = np.minimum.reduceat(block, starts[lo:hi] - starts[lo], axis=0)
        lo = hi
    return out.astype(np.uint64), counts > 0


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


def lsh_bands(settings: NearDedupSettings) -> tuple[int, int]:
    """``(bands, rows)`` of the LSH banding, datasketch's optimum for the threshold (equal FP/FN weights)."""
    from datasketch.lsh import _optimal_param

    return _optimal_param(settings.minhash_threshold, settings.num_perm, 0.5, 0.5)


def _lsh_tag(settings: NearDedupSettings) -> str:
    b, r = lsh_bands(settings)
    return f"{SCHEME_TAG}/num_perm={settings.num_perm}/shingle_n={settings.shingle_size}/b={b}/r={r}/mix64"


def band_keys(hashvalues: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per (record, band): ``[n, bands]`` uint64, equal iff the band's values are (up to 2^-64).

    A polynomial over the band's hash values, finished with splitmix64 so keys
    spread evenly; a collision only adds a candidate, which the Jaccard check drops.
    """
    h = np.asarray(hashvalues, dtype=np.uint64)[:, : bands * rows].reshape(len(hashvalues), bands, rows)
    with np.errstate(over="ignore"):
        key = np.zeros((len(h), bands), dtype=np.uint64)
        for j in range(rows):
            key = key * np.uint64(0x100000001B3) + h[:, :, j] + np.uint64(j + 1)
        key ^= key >> np.uint64(30)
        key *= np.uint64(0xBF58476D1CE4E5B9)
        key ^= key >> np.uint64(27)
        key *= np.uint64(0x94D049BB133111EB)
        key ^= key >> np.uint64(31)
    return key


def ensure_table(con: "duckdb.DuckDBPyConnection") -> None:
    """Create ``minhash_signatures`` and the LSH band table if they do not exist."""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        "id VARCHAR PRIMARY KEY, content_hash VARCHAR NOT NULL, num_perm INTEGER NOT NULL, "
        "shingle_n INTEGER NOT NULL, scheme VARCHAR NOT NULL, hashvalues UBIGINT[] NOT NULL)"
    )
    con.execute(f"CREATE TABLE IF NOT EXISTS {BANDS} (id VARCHAR NOT NULL, band SMALLINT NOT NULL, "
                "key UBIGINT NOT NULL)")
    con.execute(f"CREATE TABLE IF NOT EXISTS {BANDS}_meta (tag VARCHAR)")


def _check_scheme(con: "duckdb.DuckDBPyConnection", settings: NearDedupSettings) -> None:
    other = con.execute(
        f"SELECT num_perm, shingle_n, scheme, count(*) FROM {TABLE} "
        "WHERE num_perm <> ? OR shingle_n <> ? OR scheme <> ? GROUP BY ALL LIMIT 1",
        [settings.num_perm, settings.shingle_size, SCHEME_TAG],
    ).fetchone()
    if other is not None:
        raise SignatureMismatch(
            f"{other[3]} stored signatures have num_perm={other[0]}, shingle_n={other[1]}, scheme={other[2]!r}; "
            f"settings ask for num_perm={settings.num_perm}, shingle_n={settings.shingle_size}, "
            f"scheme={SCHEME_TAG!r}. Re-sign history with `anchormix resign-minhash` (or restore the settings)."
        )


def _matrix(table) -> tuple[list[str], np.ndarray]:
    ids = table.column("id").to_pylist()
    if not ids:
        return [], np.zeros((0, 0), dtype=np.uint64)
    flat = table.column("hashvalues").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return ids, flat.astype(np.uint64, copy=False).reshape(len(ids), -1)


def load_signatures(con: "duckdb.DuckDBPyConnection", settings: NearDedupSettings) -> tuple[list[str], np.ndarray]:
    """All stored accepted signatures as (ids, uint64 matrix ``[n, num_perm]``).

    Raises SignatureMismatch if any stored row was made with other parameters.
    The nightly path never calls this: it fetches only the signatures its band
    keys point at.
    """
    ensure_table(con)
    _check_scheme(con, settings)
    ids, matrix = _matrix(settle(con).sql(f"SELECT id, hashvalues FROM {TABLE} ORDER BY id").to_arrow_table())
    return ids, matrix if ids else np.zeros((0, settings.num_perm), dtype=np.uint64)


def _ensure_bands(con: "duckdb.DuckDBPyConnection", settings: NearDedupSettings) -> None:
    """Rebuild the band table from stored signatures when it was made with other bands (or predates them)."""
    tag = _lsh_tag(settings)
    stored = con.execute(f"SELECT tag FROM {BANDS}_meta").fetchone()
    if stored is not None and stored[0] == tag:
        return
    b, r = lsh_bands(settings)
    con.execute(f"DELETE FROM {BANDS}")
    stored = settle(con).sql(f"SELECT id, hashvalues FROM {TABLE}").to_arrow_table()  # one-off, on a banding change
    for start in range(0, stored.num_rows, 50_000):
        ids, matrix = _matrix(stored.slice(start, 50_000))
        if ids:
            _insert_bands(con, ids, band_keys(matrix, b, r))
    con.execute(f"DELETE FROM {BANDS}_meta")
    con.execute(f"INSERT INTO {BANDS}_meta VALUES (?)", [tag])


def _insert_bands(con, ids: list[str], keys: np.ndarray) -> None:
    n, b = keys.shape
    insert_rows(con, BANDS, {"id": np.repeat(np.asarray(ids, dtype=object), b).tolist(),
                             "band": np.tile(np.arange(b, dtype=np.int16), n), "key": keys.reshape(-1)})


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
    if replace:
        con.execute(f"DELETE FROM {TABLE} WHERE id IN (SELECT unnest(?))", [table.column("id").to_pylist()])
    insert_rows(con, TABLE, table)
    b, r = lsh_bands(settings)
    _insert_bands(con, [row[0] for row in rows], band_keys(matrix, b, r))


def _candidate_pairs(con, ids: list[str], keys: np.ndarray) -> tuple[list[tuple[int, str]], list[tuple[int, int]]]:
    """Band-key matches of the batch: against stored history (batch row, stored id) and within the batch (i < j)."""
    n, b = keys.shape
    batch = as_arrow({"row": np.repeat(np.arange(n, dtype=np.int64), b),
                      "band": np.tile(np.arange(b, dtype=np.int16), n), "key": keys.reshape(-1)})
    with registered(con, batch) as name:
        history = con.execute(
            f"SELECT DISTINCT t.row, h.id FROM {name} t JOIN {BANDS} h "
            "ON h.band = t.band AND h.key = t.key").fetchall()
        within = con.execute(
            f"SELECT DISTINCT a.row, b.row FROM {name} a JOIN {name} b "
            "ON a.band = b.band AND a.key = b.key AND a.row < b.row").fetchall()
    return history, within


def prepare(con: "duckdb.DuckDBPyConnection", settings: NearDedupSettings) -> None:
    """Make the tables, refuse stored signatures of other parameters (SignatureMismatch), and rebuild the band
    table after a banding change: what must hold before a batch is signed and decided."""
    ensure_table(con)
    _check_scheme(con, settings)
    _ensure_bands(con, settings)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"id": pd.Series([], dtype=object), "duplicate_of": pd.Series([], dtype=object),
                         "similarity": pd.Series([], dtype="float64")})


def find_near_duplicates(
    con: "duckdb.DuckDBPyConnection", new: pd.DataFrame, settings: NearDedupSettings
) -> pd.DataFrame:
    """Flag near duplicates in ``new`` against accepted history and earlier rows of ``new``.

    ``new`` has columns ``id``, ``norm_text``, ``content_hash``; its order is
    the priority order (the first of two near-identical new records wins).
    Returns one row per duplicate: ``id``, ``duplicate_of`` (the accepted id with
    the highest estimated Jaccard; ties go to stored history, then the smaller id), and
    ``similarity`` (estimated Jaccard, >= ``minhash_threshold``). Every new
    non-duplicate with at least one word is added to ``minhash_signatures``
    and its LSH band keys to ``minhash_bands``.

    The work is proportional to the batch: candidates come from a join of the
    batch's band keys with the stored ones, and only the signatures they point
    at are read back.

    Idempotent: an id already in the accepted set was decided earlier and is
    never flagged (not even as a duplicate of itself); re-running the same batch
    returns the same rows and stores nothing new. Texts without words are never
    flagged and never stored (exact dedup handles them).
    """
    missing = {"id", "norm_text", "content_hash"} - set(new.columns)
    if missing:
        raise ValueError(f"new records lack columns {sorted(missing)}")
    ids = new["id"].astype(str).tolist()
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise ValueError(f"id {dup!r} appears twice in the batch")
    prepare(con, settings)
    stored = {row[0] for row in con.execute(
        f"SELECT id FROM {TABLE} WHERE id IN (SELECT unnest(?))", [ids]).fetchall()} if ids else set()

    perms = _permutations(settings.num_perm)
    rows, values, hashes = [], [], []
    for i, (rid, text, chash) in enumerate(zip(ids, new["norm_text"], new["content_hash"])):
        if rid in stored:
            continue
        m = signature(text if isinstance(text, str) else "", settings, perms)
        if m is not None:
            rows.append(ids[i])
            values.append(m.hashvalues.astype(np.uint64))
            hashes.append(str(chash))
    if not rows:
        return _empty()
    return decide_near_duplicates(con, rows, hashes, np.stack(values), settings)


def decide_near_duplicates(con: "duckdb.DuckDBPyConnection", ids: list[str], content_hashes: list[str],
                           matrix: np.ndarray, settings: NearDedupSettings) -> pd.DataFrame:
    """Flag near duplicates among signed records, in priority order, and store the accepted ones.

    ``ids`` are records not yet accepted, each with words, ``matrix[i]`` the
    signature of ``ids[i]`` (:func:`signature_matrix` or :func:`signature`);
    :func:`prepare` ran on ``con``. Returns what :func:`find_near_duplicates`
    returns, and stores the same rows.
    """
    if not ids:
        return _empty()
    matrix = np.asarray(matrix, dtype=np.uint64)
    b, r = lsh_bands(settings)
    history, within = _candidate_pairs(con, ids, band_keys(matrix, b, r))

    hist_ids = sorted({h for _, h in history})
    hist_values: dict[str, np.ndarray] = {}
    if hist_ids:
        got_ids, got = _matrix(settle(con).sql(
            f"SELECT id, hashvalues FROM {TABLE} WHERE id IN (SELECT unnest(?))", params=[hist_ids]).to_arrow_table())
        hist_values = dict(zip(got_ids, got))
    from_history: dict[int, list[str]] = {}
    for row, hid in history:
        from_history.setdefault(row, []).append(hid)
    earlier: dict[int, list[int]] = {}
    for a, c in within:
        earlier.setdefault(c, []).append(a)

    out: list[tuple[str, str, float]] = []
    accepted_rows: list[int] = []
    accepted = np.zeros(len(ids), dtype=bool)
    for k in range(len(ids)):
        hv = matrix[k]
        best: tuple[float, int, str] | None = None
        for hid in from_history.get(k, ()):
            sim = float(np.mean(hist_values[hid] == hv))
            if sim >= settings.minhash_threshold and (best is None or (-sim, 0, hid) < best):
                best = (-sim, 0, hid)
        for a in earlier.get(k, ()):
            if not accepted[a]:
                continue
            sim = float(np.mean(matrix[a] == hv))
            key = (-sim, 1, ids[a])
            if sim >= settings.minhash_threshold and (best is None or key < best):
                best = key
        if best is not None:
            out.append((ids[k], best[2], -best[0]))
        else:
            accepted[k] = True
            accepted_rows.append(k)
    _store(con, [(ids[k], content_hashes[k], matrix[k]) for k in accepted_rows], settings)
    if not out:
        return _empty()
    return pd.DataFrame(out, columns=["id", "duplicate_of", "similarity"]).astype({"similarity": "float64"})


def resign_history(con: "duckdb.DuckDBPyConnection", accepted: pd.DataFrame, settings: NearDedupSettings) -> int:
    """Replace every stored signature (and band key) with one made under ``settings``.

    ``accepted`` (columns ``id``, ``norm_text``, ``content_hash``) must be the
    whole accepted history; ids not in it are removed. Returns rows stored.
    ``anchormix resign-minhash`` calls it with the store's accepted records.
    """
    ensure_table(con)
    matrix, has_words = signature_matrix(accepted["norm_text"].tolist(), settings)
    rows = [(rid, str(chash), hv) for rid, chash, hv, keep in
            zip(accepted["id"].astype(str), accepted["content_hash"], matrix, has_words) if keep]
    with transaction(con):
        con.execute(f"DELETE FROM {TABLE}")
        con.execute(f"DELETE FROM {BANDS}")
        con.execute(f"DELETE FROM {BANDS}_meta")
        con.execute(f"INSERT INTO {BANDS}_meta VALUES (?)", [_lsh_tag(settings)])
        _store(con, rows, settings)
    return len(rows)


def accepted_history(con: "duckdb.DuckDBPyConnection") -> pd.DataFrame:
    """The accepted records whose signatures are stored (``id, norm_text, content_hash``), for re-signing."""
    ensure_table(con)
    return con.execute(
        f"SELECT n.id, n.norm_text, n.content_hash FROM normalized n JOIN {TABLE} s USING (id) ORDER BY n.id").df()
