"""Bulk writes: one Arrow insert, replace-by-drop, and a rollback that keeps the old rows."""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from anchormix.store import init_schema
from anchormix.store_writes import insert_rows, replace_drop_rows, update_from


@pytest.fixture()
def con():
    c = duckdb.connect()
    init_schema(c)
    return c


def test_replace_drop_rows_replaces_only_that_drop(con):
    replace_drop_rows(con, "quality", "d1", {"id": ["a", "b"], "drop": ["d1", "d1"], "score": [0.5, 1.0],
                                             "passed": [False, True], "reasons": ["x", ""]})
    replace_drop_rows(con, "quality", "d2", pd.DataFrame({"id": ["c"], "drop": ["d2"], "score": [0.1],
                                                          "passed": [False], "reasons": ["y"]}))
    replace_drop_rows(con, "quality", "d1", pa.table({"id": ["a"], "drop": ["d1"], "score": [0.9],
                                                      "passed": [True], "reasons": [""]}))
    assert con.execute("SELECT id, score FROM quality ORDER BY id").fetchall() == [("a", 0.9), ("c", 0.1)]


def test_a_failed_replace_rolls_back_and_keeps_the_old_rows(con):
    replace_drop_rows(con, "normalized", "d1", {"id": ["a"], "drop": ["d1"], "norm_text": ["t"],
                                                "content_hash": ["h"], "n_chars": [1], "n_words": [1]})
    with pytest.raises(duckdb.Error):  # the primary key refuses the repeated id after the delete ran
        replace_drop_rows(con, "normalized", "d1", {"id": ["b", "b"], "drop": ["d1", "d1"], "norm_text": ["u", "v"],
                                                    "content_hash": ["h2", "h3"], "n_chars": [1, 1], "n_words": [1, 1]})
    assert con.execute("SELECT id FROM normalized").fetchall() == [("a",)]
    assert insert_rows(con, "normalized", {"id": []}) == 0


def test_update_from_sets_columns_by_key_in_one_statement(con):
    insert_rows(con, "dedup", {"id": ["a", "b", "c"], "drop": ["d"] * 3, "status": ["unique"] * 3})
    update_from(con, "dedup", "id", {"id": ["b", "c"], "status": ["duplicate", "duplicate"],
                                     "duplicate_of": ["a", "a"], "similarity": [0.97, 0.99]})
    assert con.execute("SELECT id, status, duplicate_of, similarity FROM dedup ORDER BY id").fetchall() == [
        ("a", "unique", None, None), ("b", "duplicate", "a", 0.97), ("c", "duplicate", "a", 0.99)]


def test_writes_and_reads_follow_a_result_left_unread(con):
    # fetchone() leaves its result pending; DuckDB 2 then refuses register() and sql() until it is finished.
    import numpy as np

    from anchormix.embed import EmbeddingCache
    from anchormix.store_writes import settle

    cache = EmbeddingCache(con)
    assert cache.count("m") == 0  # a fetchone()
    cache.put(["h1", "h2"], np.eye(2, 3, dtype=np.float32), "m")
    assert con.execute("SELECT count(*) FROM embedding_cache").fetchone() == (2,)
    matrix, missing = cache.matrix(["h2", "h3"], "m")
    assert missing == ["h3"] and matrix[0].tolist() == [0.0, 1.0, 0.0]
    con.execute("SELECT id FROM quality")  # not fetched at all
    insert_rows(con, "quality", {"id": ["a"], "drop": ["d1"], "score": [0.5], "passed": [True], "reasons": [""]})
    con.execute("SELECT 1").fetchone()
    assert settle(con).sql("SELECT id FROM quality").fetchall() == [("a",)]
