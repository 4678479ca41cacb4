"""MinHash LSH near-duplicate detection against persisted accepted history."""

from __future__ import annotations

import argparse
import collections
import functools
import inspect
import json
import pathlib
import string
import textwrap

import duckdb
import pandas as pd
import pytest

from anchormix.dedup import near
from anchormix.dedup.near import (
    NearDedupSettings,
    SignatureMismatch,
    find_near_duplicates,
    resign_history,
    shingles,
)
from anchormix.errors import ConfigError
from anchormix.normalize import content_hash, normalize_text
from anchormix.settings_base import parse_section


def long_stdlib_docs(limit: int) -> list[str]:
    """Real stdlib docstrings of at least 80 words (human text for tests), pairwise dissimilar.

    The stdlib has real near duplicates (``json.dump`` / ``json.dumps``), so a
    doc joins only if its shingle Jaccard to every chosen doc is below 0.3.
    """
    docs: list[str] = []
    for module in (json, textwrap, inspect, pathlib, string, collections, functools, argparse):
        for name in sorted(dir(module)):
            if name.startswith("_"):
                continue
            doc = inspect.getdoc(getattr(module, name))
            if not doc:
                continue
            text = normalize_text(doc)
            if len(text.split()) >= 80 and all(jaccard(text, d, 5) < 0.3 for d in docs):
                docs.append(text)
            if len(docs) >= limit:
                return docs
    return docs


def frame(ids, texts) -> pd.DataFrame:
    return pd.DataFrame({"id": ids, "norm_text": texts, "content_hash": [content_hash(t) for t in texts]})


def edit(text: str, k: int = 1) -> str:
    """Mechanically perturb real text: drop ``k`` evenly spaced interior words."""
    words = text.split()
    drop = {len(words) * (i + 1) // (k + 1) for i in range(k)}
    return " ".join(w for i, w in enumerate(words) if i not in drop)


def jaccard(a: str, b: str, n: int) -> float:
    sa, sb = shingles(a, n), shingles(b, n)
    return len(sa & sb) / len(sa | sb)


def test_settings_defaults_and_errors():
    s = NearDedupSettings.model_validate({})
    assert (s.minhash_threshold, s.num_perm, s.shingle_size) == (0.8, 128, 5)
    assert (s.semantic_tau, s.semantic_clusters, s.semantic_enabled) == (0.95, 0, True)
    with pytest.raises(ConfigError, match=r"dedup\.minhash_threshold: must be <= 1.0"):
        parse_section(NearDedupSettings, {"minhash_threshold": 1.5}, "dedup")
    with pytest.raises(ConfigError, match=r"dedup\.shingles: unknown key"):
        parse_section(NearDedupSettings, {"shingles": 3}, "dedup")


def test_shingles_of_short_and_empty_text():
    assert shingles("", 5) == set()
    assert shingles("Two words", 5) == {b"two words"}
    assert len(shingles("a b c d e f", 5)) == 2


def test_finds_near_duplicates_against_history_and_within_batch(tmp_path):
    docs = long_stdlib_docs(8)
    assert len(docs) == 8
    con = duckdb.connect(str(tmp_path / "store.duckdb"))
    settings = NearDedupSettings()
    history = frame([f"h{i}" for i in range(6)], docs[:6])
    assert find_near_duplicates(con, history, settings).empty

    near_h2 = edit(docs[2])
    assert jaccard(near_h2, docs[2], 5) >= 0.85
    batch = frame(["n0", "n1", "n2", "n3"], [docs[6], near_h2, docs[7], edit(docs[7], k=2)])
    dups = find_near_duplicates(con, batch, settings).set_index("id")
    assert set(dups.index) == {"n1", "n3"}
    assert dups.loc["n1", "duplicate_of"] == "h2"  # the accepted history id that matched
    assert dups.loc["n3", "duplicate_of"] == "n2"  # earlier record of the same batch wins
    assert dups.loc["n1", "similarity"] == pytest.approx(jaccard(near_h2, docs[2], 5), abs=0.1)
    assert (dups["similarity"] >= settings.minhash_threshold).all()
    stored = {r[0] for r in con.execute("SELECT id FROM minhash_signatures").fetchall()}
    assert stored == {"h0", "h1", "h2", "h3", "h4", "h5", "n0", "n2"}  # duplicates are never accepted


def test_history_is_rebuilt_from_stored_signatures_without_rehashing(tmp_path, monkeypatch):
    docs = long_stdlib_docs(5)
    path = str(tmp_path / "store.duckdb")
    con = duckdb.connect(path)
    find_near_duplicates(con, frame(["h0", "h1", "h2", "h3"], docs[:4]), NearDedupSettings())
    con.close()

    calls = []
    real = near.signature
    monkeypatch.setattr(near, "signature", lambda text, *a, **k: calls.append(text) or real(text, *a, **k))
    con = duckdb.connect(path)
    dups = find_near_duplicates(con, frame(["n0", "n1"], [edit(docs[3]), docs[4]]), NearDedupSettings())
    assert dups.to_dict("records")[0]["duplicate_of"] == "h3"
    assert len(calls) == 2  # only tonight's records were hashed


def test_rerun_is_idempotent_and_never_self_matches():
    docs = long_stdlib_docs(4)
    con = duckdb.connect()
    settings = NearDedupSettings()
    batch = frame(["a", "b", "c", "d"], [docs[0], edit(docs[0]), docs[1], docs[2]])
    first = find_near_duplicates(con, batch, settings)
    n_stored = con.execute("SELECT count(*) FROM minhash_signatures").fetchone()[0]
    second = find_near_duplicates(con, batch, settings)
    pd.testing.assert_frame_equal(first, second)
    assert first["id"].tolist() == ["b"] and first["duplicate_of"].tolist() == ["a"]
    assert (second["id"] != second["duplicate_of"]).all()
    assert con.execute("SELECT count(*) FROM minhash_signatures").fetchone()[0] == n_stored == 3


def test_changed_parameters_refuse_stale_signatures_until_resigned():
    docs = long_stdlib_docs(3)
    con = duckdb.connect()
    history = frame(["h0", "h1"], docs[:2])
    find_near_duplicates(con, history, NearDedupSettings())
    other = NearDedupSettings(num_perm=64, shingle_size=3)
    with pytest.raises(SignatureMismatch, match="num_perm=128"):
        find_near_duplicates(con, frame(["n0"], [docs[2]]), other)
    assert resign_history(con, history, other) == 2
    dups = find_near_duplicates(con, frame(["n0", "n1"], [docs[2], edit(docs[1])]), other)
    assert dups["duplicate_of"].tolist() == ["h1"]


def test_duplicate_ids_in_batch_and_missing_columns_raise():
    con = duckdb.connect()
    with pytest.raises(ValueError, match="appears twice"):
        find_near_duplicates(con, frame(["x", "x"], ["one text here", "another text there"]), NearDedupSettings())
    with pytest.raises(ValueError, match="lack columns"):
        find_near_duplicates(con, pd.DataFrame({"id": ["x"]}), NearDedupSettings())


def test_band_keys_live_in_the_store_and_follow_a_threshold_change():
    docs = long_stdlib_docs(4)
    con = duckdb.connect()
    settings = NearDedupSettings()
    find_near_duplicates(con, frame(["h0", "h1", "h2"], docs[:3]), settings)
    bands, rows = near.lsh_bands(settings)
    assert con.execute("SELECT count(*) FROM minhash_bands").fetchone()[0] == 3 * bands
    # Another threshold means another banding: the band table is rebuilt from the stored signatures.
    looser = NearDedupSettings(minhash_threshold=0.5)
    assert near.lsh_bands(looser) != (bands, rows)
    dups = find_near_duplicates(con, frame(["n0", "n1"], [edit(docs[1], k=3), docs[3]]), looser)
    assert dups["duplicate_of"].tolist() == ["h1"]
    assert con.execute("SELECT count(*) FROM minhash_bands").fetchone()[0] == 4 * near.lsh_bands(looser)[0]


def test_resign_minhash_command_re_signs_the_stores_accepted_history(tmp_path, monkeypatch):
    from anchormix.cli import main
    from anchormix.store import connect_store, init_schema

    docs = long_stdlib_docs(2)
    (tmp_path / "anchormix.toml").write_text('[paths]\nstore = "s.duckdb"\n[dedup]\nnum_perm = 64\n')
    (tmp_path / "sources.toml").write_text("")
    monkeypatch.setenv("ANCHORMIX_CONFIG", str(tmp_path / "anchormix.toml"))
    with connect_store(tmp_path / "s.duckdb") as con:
        init_schema(con)
        con.execute("INSERT INTO normalized (id, drop, norm_text, content_hash) VALUES (?, 'd', ?, ?), (?, 'd', ?, ?)",
                    ["a", docs[0], content_hash(docs[0]), "b", docs[1], content_hash(docs[1])])
        find_near_duplicates(con, frame(["a", "b"], docs), NearDedupSettings())  # made with num_perm=128
    assert main(["resign-minhash"]) == 0
    with connect_store(tmp_path / "s.duckdb") as con:
        assert con.execute("SELECT DISTINCT num_perm FROM minhash_signatures").fetchall() == [(64,)]
        assert find_near_duplicates(con, frame(["n"], [edit(docs[0])]), NearDedupSettings(num_perm=64))[
            "duplicate_of"].tolist() == ["a"]
