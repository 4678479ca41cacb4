"""The embedding cache: vectors by (content hash, model id), their rows kept in one file per model.

DuckDB holds the keys, ``embedding_cache(content_hash, model_id, pos)``, and each model's file,
``embedding_files(model_id, file_id, dim)``; the vectors are float32 rows of
``<store>.vectors/<model hash>.f32`` after a header naming the file. Reading k vectors reads k rows of
that file, whatever the cache holds. Kept in a DuckDB list column, every lookup read the whole column:
10k of 1M cached vectors cost 1.37 CPU-s from a cold file, and any sample scattered over history (the
pool's diversity report, a mix's gates) still did after the rowid fetch, so a night's cost grew with
every night before it.

Rows are appended before their keys are inserted, so a crash or a rolled-back transaction leaves rows no
key points at, never a key without its row. A file that is missing, cut short or not the one the store
wrote (its header's id differs) is started again and that model's keys are dropped: the cache is a cache,
and the vectors are encoded again when next asked for.

An in-memory store keeps its files in a temporary directory of the process, removed at exit. A store made
by an earlier version, whose vectors sit in a ``vector`` column, is moved to files once.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from anchormix.store import model_file_beside
from anchormix.store_writes import registered, settle

if TYPE_CHECKING:
    import duckdb

_MAGIC = b"anchormix-vectors\n"
_HEADER = 64  # magic, the file id (32 hex characters), padding
_memory_dir: Path | None = None


def _memory_files() -> Path:
    """This process's directory for the vector files of in-memory stores."""
    global _memory_dir
    if _memory_dir is None:
        _memory_dir = Path(tempfile.mkdtemp(prefix="anchormix-vectors-"))
        atexit.register(shutil.rmtree, _memory_dir, True)
    return _memory_dir


def _header(file_id: str) -> bytes:
    return (_MAGIC + file_id.encode("ascii")).ljust(_HEADER, b"\n")


class _VectorFile(NamedTuple):
    """A model's vectors file: float32 rows of ``dim`` after the header."""

    dim: int
    path: Path


class EmbeddingCache:
    """The embedding cache of a store on a DuckDB connection (see the module docstring).

    Lookups always name the model id, so vectors of another model are never returned.
    """

    TABLE = "embedding_cache"
    FILES = "embedding_files"

    def __init__(self, con: "duckdb.DuckDBPyConnection"):
        self.con = con
        columns = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = "
            "current_schema()", [self.TABLE]).fetchall()}
        con.execute(f"CREATE TABLE IF NOT EXISTS {self.FILES} (model_id VARCHAR PRIMARY KEY, "
                    "file_id VARCHAR NOT NULL, dim INTEGER NOT NULL)")
        if "vector" in columns:
            self._move_vectors_to_files()
        con.execute(f"CREATE TABLE IF NOT EXISTS {self.TABLE} (content_hash VARCHAR NOT NULL, "
                    "model_id VARCHAR NOT NULL, pos BIGINT NOT NULL, PRIMARY KEY (content_hash, model_id))")

    # -- files ---------------------------------------------------------------------------------
    def path(self, model_id: str, file_id: str) -> Path:
        """Where ``model_id``'s vectors live: beside the store's file, or in the process's temporary directory
        for an in-memory store."""
        return model_file_beside(self.con, "vectors", model_id, ".f32") or _memory_files() / f"{file_id}.f32"

    def _file(self, model_id: str) -> _VectorFile | None:
        """The model's file when it is the one the store wrote; None when the store has none. A file that is
        missing or another one drops the model's keys (see the module docstring)."""
        row = self.con.execute(f"SELECT file_id, dim FROM {self.FILES} WHERE model_id = ?", [model_id]).fetchone()
        if row is None:
            return None
        file_id, dim = row
        path = self.path(model_id, file_id)
        try:
            with open(path, "rb") as f:
                ok = f.read(_HEADER) == _header(file_id)
        except OSError:
            ok = False
        if not ok:  # no transaction of its own: callers may hold one, and a rollback only costs encodes
            self.con.execute(f"DELETE FROM {self.TABLE} WHERE model_id = ?", [model_id])
            self.con.execute(f"DELETE FROM {self.FILES} WHERE model_id = ?", [model_id])
            return None
        return _VectorFile(int(dim), path)

    def dim(self, model_id: str) -> int | None:
        """The dimension of ``model_id``'s cached vectors, None when it has none."""
        found = self._file(model_id)
        return None if found is None else found.dim

    def _append(self, model_id: str, vectors: np.ndarray, file: _VectorFile | None) -> tuple[_VectorFile, np.ndarray]:
        """Write ``vectors`` after the last whole row of the model's ``file`` (None: a new file); the file and
        the rows written."""
        n, dim = vectors.shape
        if file is None:
            file_id = uuid.uuid4().hex
            file = _VectorFile(dim, self.path(model_id, file_id))
            file.path.parent.mkdir(parents=True, exist_ok=True)
            with open(file.path, "wb") as f:
                f.write(_header(file_id))
            self.con.execute(f"INSERT INTO {self.FILES} VALUES (?, ?, ?)", [model_id, file_id, dim])
        if dim != file.dim:
            raise ValueError(f"vectors of {dim} dimensions for model {model_id!r}, whose cache holds {file.dim}")
        row_bytes = 4 * dim
        with open(file.path, "r+b") as f:
            start = (f.seek(0, os.SEEK_END) - _HEADER) // row_bytes  # a row cut short by a crash is written over
            f.seek(_HEADER + start * row_bytes)
            f.write(np.ascontiguousarray(vectors, dtype="<f4").tobytes())
            f.truncate()
            f.flush()
            os.fsync(f.fileno())
        return file, np.arange(start, start + n, dtype=np.int64)

    # -- reads and writes ----------------------------------------------------------------------
    def positions(self, content_hashes: Sequence[str], model_id: str) -> np.ndarray:
        """Each hash's row in the model's file, -1 when it has none (keys only; no vector is read)."""
        import pyarrow as pa

        n = len(content_hashes)
        out = np.full(n, -1, dtype=np.int64)
        if n == 0:
            return out
        wanted = pa.table({"content_hash": pa.array(list(content_hashes), pa.string()),
                           "i": pa.array(np.arange(n, dtype=np.int64))})
        with registered(self.con, wanted) as name:
            found = self.con.sql(f"SELECT w.i, c.pos FROM {self.TABLE} c JOIN {name} w USING (content_hash) "
                                 "WHERE c.model_id = $mid", params={"mid": model_id}).fetchnumpy()
        out[np.asarray(found["i"], dtype=np.int64)] = np.asarray(found["pos"], dtype=np.int64)
        return out

    def _rows(self, content_hashes: Sequence[str], model_id: str) -> tuple[_VectorFile | None, int, np.ndarray]:
        """The model's file (None: it has none), its whole rows, and each hash's row in it (-1: none, or one past
        the end of a file cut short)."""
        found = self._file(model_id)
        if found is None:
            return None, 0, np.full(len(content_hashes), -1, dtype=np.int64)
        rows = (os.path.getsize(found.path) - _HEADER) // (4 * found.dim)
        pos = self.positions(content_hashes, model_id)
        pos[pos >= rows] = -1
        return found, rows, pos

    def matrix(self, content_hashes: Sequence[str], model_id: str) -> tuple[np.ndarray, list[str]]:
        """``(float32 [len(content_hashes), d] in the given order, the hashes with no cached vector)``; the rows
        of missing hashes are zeros, and the matrix has 0 columns when the model has no vector at all."""
        n = len(content_hashes)
        found, rows, pos = self._rows(content_hashes, model_id)
        if found is None or n == 0:
            return np.zeros((n, 0), dtype=np.float32), list(content_hashes)
        hit = pos >= 0
        out = np.zeros((n, found.dim), dtype=np.float32)
        if hit.any():
            stored = np.memmap(found.path, dtype="<f4", mode="r", offset=_HEADER, shape=(rows, found.dim))
            which = np.flatnonzero(hit)[np.argsort(pos[hit], kind="stable")]  # the file read in order
            out[which] = stored[pos[which]]
            del stored
        return out, [h for h, ok in zip(content_hashes, hit) if not ok]

    def get(self, content_hashes: Sequence[str], model_id: str) -> dict[str, np.ndarray]:
        """Cached vectors of ``model_id`` for the given hashes (absent hashes are omitted)."""
        unique = list(dict.fromkeys(content_hashes))
        matrix, missing = self.matrix(unique, model_id)
        absent = set(missing)
        return {h: row for h, row in zip(unique, matrix) if h not in absent}

    def put(self, content_hashes: Sequence[str], vectors: np.ndarray, model_id: str) -> None:
        """Store vectors; a hash the cache already holds for the model keeps its vector."""
        import pyarrow as pa

        if len(content_hashes) == 0:
            return
        vectors = np.asarray(vectors, dtype=np.float32)
        index = {h: i for i, h in reversed(list(enumerate(content_hashes)))}  # a hash twice: its first vector
        hashes = list(dict.fromkeys(content_hashes))
        found, _, pos = self._rows(hashes, model_id)
        new = [h for h, p in zip(hashes, pos) if p < 0]  # a key whose row is gone is stored again
        if not new:
            return
        _, pos = self._append(model_id, vectors[[index[h] for h in new]], found)
        rows = pa.table({"content_hash": pa.array(new, pa.string()), "model_id": pa.array([model_id] * len(new)),
                         "pos": pa.array(pos)})
        with registered(self.con, rows) as name:
            self.con.execute(f"INSERT OR REPLACE INTO {self.TABLE} SELECT content_hash, model_id, pos FROM {name}")

    def count(self, model_id: str | None = None) -> int:
        """Number of cached vectors, for one model id or all."""
        if model_id is None:
            return self.con.execute(f"SELECT count(*) FROM {self.TABLE}").fetchone()[0]
        return self.con.execute(f"SELECT count(*) FROM {self.TABLE} WHERE model_id = ?", [model_id]).fetchone()[0]

    # -- an earlier version's store -------------------------------------------------------------
    def _move_vectors_to_files(self) -> None:
        """Move a ``vector`` column's vectors to files, model by model, and keep their keys with positions."""
        import pyarrow as pa

        con = self.con
        models = [r[0] for r in con.execute(f"SELECT DISTINCT model_id FROM {self.TABLE}").fetchall()]
        keys = []
        for model_id in models:
            file = self._file(model_id)
            lo, hi = con.execute(f"SELECT min(rowid), max(rowid) FROM {self.TABLE} WHERE model_id = ?",
                                 [model_id]).fetchone()
            for start in range(lo, hi + 1, 50_000):  # a chunk at a time: the column may not fit in memory
                batch = settle(con).sql(
                    f"SELECT content_hash, vector FROM {self.TABLE} WHERE model_id = ? AND rowid >= ? AND rowid < ? "
                    "ORDER BY rowid", params=[model_id, start, start + 50_000]).to_arrow_table()
                if not batch.num_rows:
                    continue
                flat = batch.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
                file, pos = self._append(model_id, flat.astype(np.float32, copy=False).reshape(batch.num_rows, -1),
                                         file)
                keys.append(pa.table({"content_hash": batch.column("content_hash"),
                                      "model_id": pa.array([model_id] * batch.num_rows), "pos": pa.array(pos)}))
        # No transaction of its own (a caller may hold one): keys lost to a crash here are vectors encoded again.
        con.execute(f"DROP TABLE {self.TABLE}")
        con.execute(f"CREATE TABLE {self.TABLE} (content_hash VARCHAR NOT NULL, model_id VARCHAR NOT NULL, "
                    "pos BIGINT NOT NULL, PRIMARY KEY (content_hash, model_id))")
        for table in keys:
            with registered(con, table) as name:
                con.execute(f"INSERT INTO {self.TABLE} SELECT content_hash, model_id, pos FROM {name}")
