"""The embedding cache: keys in DuckDB, vectors in one file per model, read by row."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from anchormix.embedding_cache import EmbeddingCache


def _vectors(n: int, d: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


@pytest.fixture()
def store(tmp_path):
    con = duckdb.connect(str(tmp_path / "store.duckdb"))
    yield con
    con.close()


def test_vectors_are_rows_of_a_file_beside_the_store(store, tmp_path):
    cache = EmbeddingCache(store)
    x = _vectors(5)
    cache.put([f"h{i}" for i in range(5)], x, "m")
    files = list((tmp_path / "store.duckdb.vectors").iterdir())
    assert len(files) == 1 and files[0].stat().st_size == 64 + 5 * 8 * 4
    matrix, missing = cache.matrix(["h3", "nope", "h0"], "m")
    assert missing == ["nope"]
    np.testing.assert_array_equal(matrix[[0, 2]], x[[3, 0]])
    assert not matrix[1].any() and cache.dim("m") == 8 and cache.count("m") == 5
    # A hash already cached keeps its vector; a repeated hash in one batch stores its first vector once.
    cache.put(["h0", "h9", "h9"], _vectors(3, seed=1), "m")
    np.testing.assert_array_equal(cache.matrix(["h0"], "m")[0][0], x[0])
    np.testing.assert_array_equal(cache.matrix(["h9"], "m")[0][0], _vectors(3, seed=1)[1])
    assert cache.count("m") == 6 and files[0].stat().st_size == 64 + 6 * 8 * 4
    # Another model never sees these vectors, and reopening the store reads the same ones.
    assert cache.matrix(["h0"], "other")[1] == ["h0"]
    again = EmbeddingCache(duckdb.connect(str(tmp_path / "again.duckdb")))
    assert again.matrix(["h0"], "m")[1] == ["h0"]


def test_a_missing_or_foreign_file_drops_the_keys_and_a_cut_file_loses_only_its_tail(store, tmp_path):
    cache = EmbeddingCache(store)
    x = _vectors(4)
    cache.put(["a", "b", "c", "d"], x, "m")
    [path] = (tmp_path / "store.duckdb.vectors").iterdir()
    with open(path, "r+b") as f:  # a crash mid-row: the last row and a half are gone
        f.truncate(64 + 2 * 8 * 4 + 5)
    matrix, missing = cache.matrix(["a", "b", "c", "d"], "m")
    assert missing == ["c", "d"]
    np.testing.assert_array_equal(matrix[:2], x[:2])
    cache.put(["c", "d"], x[2:], "m")  # stored again, after the last whole row
    np.testing.assert_array_equal(cache.matrix(["a", "b", "c", "d"], "m")[0], x)
    # Another file in its place (its header names another file): the model's keys go, nothing wrong is read.
    path.write_bytes(b"anchormix-vectors\n" + b"0" * 46 + x.tobytes())
    assert cache.matrix(["a"], "m")[1] == ["a"] and cache.count("m") == 0
    path.unlink()
    assert cache.matrix(["a"], "m")[1] == ["a"]
    cache.put(["a"], x[:1], "m")
    np.testing.assert_array_equal(cache.matrix(["a"], "m")[0][0], x[0])


def test_a_rolled_back_put_leaves_no_key(store):
    cache = EmbeddingCache(store)
    store.execute("BEGIN TRANSACTION")
    cache.put(["a"], _vectors(1), "m")
    store.execute("ROLLBACK")
    assert cache.matrix(["a"], "m")[1] == ["a"]
    cache.put(["a"], _vectors(1, seed=2), "m")
    np.testing.assert_array_equal(cache.matrix(["a"], "m")[0][0], _vectors(1, seed=2)[0])


def test_in_memory_stores_keep_their_own_vectors():
    one, two = EmbeddingCache(duckdb.connect()), EmbeddingCache(duckdb.connect())
    one.put(["a"], _vectors(1), "m")
    two.put(["a"], _vectors(1, seed=3), "m")
    np.testing.assert_array_equal(one.matrix(["a"], "m")[0][0], _vectors(1)[0])
    np.testing.assert_array_equal(two.matrix(["a"], "m")[0][0], _vectors(1, seed=3)[0])


def test_a_store_with_a_vector_column_is_moved_to_files(store):
    x = _vectors(3, d=4)
    store.execute("CREATE TABLE embedding_cache (content_hash VARCHAR NOT NULL, model_id VARCHAR NOT NULL, "
                  "vector FLOAT[] NOT NULL, PRIMARY KEY (content_hash, model_id))")
    for i, row in enumerate(x):
        store.execute("INSERT INTO embedding_cache VALUES (?, ?, ?)", [f"h{i}", "m" if i < 2 else "n", row.tolist()])
    cache = EmbeddingCache(store)
    columns = [r[0] for r in store.execute("SELECT column_name FROM information_schema.columns "
                                           "WHERE table_name = 'embedding_cache' ORDER BY ordinal_position").fetchall()]
    assert columns == ["content_hash", "model_id", "pos"]
    np.testing.assert_array_equal(cache.matrix(["h1", "h0"], "m")[0], x[[1, 0]])
    np.testing.assert_array_equal(cache.matrix(["h2"], "n")[0], x[[2]])
    assert cache.count() == 3
