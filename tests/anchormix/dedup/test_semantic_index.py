"""The persisted semantic index: kept between nights, grown by each night, checked against the store."""

from __future__ import annotations

import duckdb
import numpy as np

from anchormix.dedup.semantic import brute_force_pairs
from anchormix.dedup.semantic_index import SemanticIndex, index_path, open_index
from anchormix.store import init_schema
from tests.anchormix.dedup.test_semantic import realistic_vectors


def _store(tmp_path, vectors, drops):
    """A store whose records (one per vector) are unique, with seq = row number + 1."""
    con = duckdb.connect(str(tmp_path / "store.duckdb"))
    init_schema(con)
    n = len(vectors)
    hashes = [f"h{i}" for i in range(n)]
    con.execute("INSERT INTO raw_records (id, drop, seq) SELECT 'r' || i, d, i + 1 FROM "
                "(SELECT unnest(range(?)) AS i, unnest(?) AS d)", [n, list(drops)])
    con.execute("INSERT INTO normalized (id, drop, content_hash) SELECT 'r' || i, d, 'h' || i FROM "
                "(SELECT unnest(range(?)) AS i, unnest(?) AS d)", [n, list(drops)])
    con.execute("INSERT INTO dedup (id, drop, status) SELECT 'r' || i, d, 'unique' FROM "
                "(SELECT unnest(range(?)) AS i, unnest(?) AS d)", [n, list(drops)])
    lookup = dict(zip(hashes, vectors))
    return con, lambda hs: np.stack([lookup[h] for h in hs])


def test_index_is_saved_beside_the_store_and_reused_the_next_night(tmp_path):
    x = realistic_vectors(n=3000, d=32, dup_frac=0.0)
    drops = ["2026-01-01"] * 2500 + ["2026-01-02"] * 500
    con, vectors_of = _store(tmp_path, x, drops)
    index, stats = open_index(con, "2026-01-02", "model-a", 32, vectors_of)
    assert stats.rebuilt == "no saved index" and index.size == 2500 and stats.history == 2500
    assert index.clusters == 25  # IVF once there are enough vectors, lists of about LIST_SIZE
    index.save()
    path = index_path(con, "model-a")
    assert path is not None and path.is_file() and path.parent.name == "store.duckdb.semantic"

    again, stats = open_index(con, "2026-01-02", "model-a", 32, vectors_of)
    assert stats.rebuilt is None and stats.added == 0 and again.size == 2500
    # Night 3 sees night 2's records as history: only those 500 are added, nothing is rebuilt.
    third, stats = open_index(con, "2026-01-03", "model-a", 32, vectors_of)
    assert stats.rebuilt is None and stats.added == 500 and third.size == 3000 and stats.history == 3000
    # Another model never reads this model's file.
    _, other = open_index(con, "2026-01-03", "model-b", 32, vectors_of)
    assert other.rebuilt == "no saved index"


def test_range_search_finds_the_exact_pairs_against_history(tmp_path):
    x = realistic_vectors(n=4000, d=48)
    n = len(x)
    history = np.arange(n) < 3500
    con, vectors_of = _store(tmp_path, x, ["2026-01-01" if h else "2026-01-02" for h in history])
    index, _ = open_index(con, "2026-01-02", "m", 48, vectors_of)
    rows, seqs, sims = index.range_search(x[~history], 0.9, nprobe=8)
    found = {(int(r), int(s) - 1) for r, s in zip(rows, seqs)}
    new_idx = np.flatnonzero(~history)
    exact = brute_force_pairs(x, 0.9, queries=new_idx)
    want = set()
    for i, j in zip(exact.i, exact.j):
        a, b = (i, j) if not history[i] else (j, i)
        if not history[a] or not history[b]:
            if history[b]:
                want.add((int(np.searchsorted(new_idx, a)), int(b)))
    assert want and len(found & want) >= 0.99 * len(want)
    assert np.all(sims >= 0.9 - 1e-5)


def test_an_unreadable_index_is_rebuilt_and_a_retrain_follows_growth(tmp_path):
    x = realistic_vectors(n=5000, d=16, dup_frac=0.0)
    con, vectors_of = _store(tmp_path, x, ["2026-01-01"] * 2100 + ["2026-01-02"] * 2900)
    index, _ = open_index(con, "2026-01-02", "m", 16, vectors_of)
    index.save()
    _, stats = open_index(con, "2026-01-03", "m", 16, vectors_of, retrain_growth=1.0)
    assert stats.rebuilt and "grew from 2100" in stats.rebuilt
    index_path(con, "m").write_bytes(b"not a faiss index")
    _, stats = open_index(con, "2026-01-02", "m", 16, vectors_of)
    assert stats.rebuilt == "saved index unreadable, of an older format or made for another store"


def test_an_index_saved_for_a_deleted_store_is_not_read_by_its_successor(tmp_path):
    x = realistic_vectors(n=300, d=16, dup_frac=0.0)
    con, vectors_of = _store(tmp_path, x, ["2026-01-01"] * 300)
    index, _ = open_index(con, "2026-01-02", "m", 16, vectors_of)
    index.save()
    con.close()
    (tmp_path / "store.duckdb").unlink()
    # Same path, same seqs 1..n, other texts: the old members must not be taken for the new records.
    con, vectors_of = _store(tmp_path, x[::-1].copy(), ["2026-01-01"] * 300)
    again, stats = open_index(con, "2026-01-02", "m", 16, vectors_of)
    assert stats.rebuilt == "saved index unreadable, of an older format or made for another store"
    rows, seqs, _ = again.range_search(x[::-1][:1], 0.999, nprobe=1)
    assert 1 in seqs.tolist()


def test_in_memory_store_has_no_saved_index():
    con = duckdb.connect()
    assert index_path(con, "m") is None
    empty = SemanticIndex.build(np.zeros(0, np.int64), np.zeros((0, 8), np.float32), None)
    assert empty.size == 0 and empty.range_search(np.ones((2, 8), np.float32), 0.9, 4)[0].size == 0


def test_fp16_lists_give_the_float_cosines_and_an_older_format_is_rebuilt(tmp_path):
    import json

    x = realistic_vectors(n=3000, d=32)
    history = np.arange(len(x)) < 2600
    con, vectors_of = _store(tmp_path, x, ["2026-01-01" if h else "2026-01-02" for h in history])
    index, _ = open_index(con, "2026-01-02", "m", 32, vectors_of)
    assert hasattr(index.index, "sq")  # the lists hold fp16 copies
    rows, seqs, sims = index.range_search(x[~history], 0.9, nprobe=8)
    assert len(rows)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    exact = np.einsum("ij,ij->i", unit[~history][rows], unit[seqs - 1])
    np.testing.assert_allclose(sims, exact, atol=1e-6)
    # Members the store no longer accepts are not hits.
    index.exact = lambda members: (np.zeros((len(members), 32), np.float32), np.zeros(len(members), bool))
    assert index.range_search(x[~history], 0.9, nprobe=8)[0].size == 0
    index.save()
    meta = index.path.with_suffix(".meta.json")
    meta.write_text(json.dumps({k: v for k, v in json.loads(meta.read_text()).items() if k != "format"}))
    _, stats = open_index(con, "2026-01-02", "m", 32, vectors_of)
    assert stats.rebuilt == "saved index unreadable, of an older format or made for another store"


def test_a_drop_run_again_or_changed_later_is_replaced_not_added_twice(tmp_path):
    x = realistic_vectors(n=3000, d=32, dup_frac=0.0)
    drops = ["2026-01-01"] * 2400 + ["2026-01-02"] * 600
    con, vectors_of = _store(tmp_path, x, drops)
    night2 = np.arange(2401, 3001)
    for _ in range(2):  # night 2 run twice: its members are set, not added again
        index, _ = open_index(con, "2026-01-02", "m", 32, vectors_of)
        index.set_drop("2026-01-02", night2, x[night2 - 1], np.arange(2401, 3001))
        index.save()
        assert index.size == 3000
    assert np.array_equal(np.sort(index.members()), np.arange(1, 3001))
    # A later night sees nothing to add; then a night-1 record stops being accepted (retracted): drop 1 is
    # re-added without it, and no search returns it.
    index, stats = open_index(con, "2026-01-03", "m", 32, vectors_of)
    assert stats.added == 0 and stats.history == 3000
    con.execute("UPDATE dedup SET status = 'retracted' WHERE id = 'r5'")
    index, stats = open_index(con, "2026-01-03", "m", 32, vectors_of)
    assert stats.added == 2399 and index.size == 2999 and stats.history == 2999
    assert 6 not in index.members()
    # Backfilling night 2 with night-2 members in the index: they are not history for it.
    index, _ = open_index(con, "2026-01-02", "m", 32, vectors_of)
    _, seqs, _ = index.range_search(x[2500:2510], 0.999, nprobe=8)
    assert seqs.size == 0
    _, seqs, _ = index.range_search(x[100:110], 0.999, nprobe=8)
    assert set(seqs.tolist()) == set(range(101, 111))
