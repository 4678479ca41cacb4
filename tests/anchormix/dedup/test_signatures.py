"""Signing a batch at once gives datasketch's MinHash bit for bit, and the stage that signs on the engine decides
and stores exactly what the one-call path (one datasketch MinHash per text) does."""

from __future__ import annotations

import json

import numpy as np
import pytest

from anchormix.dedup.near import (
    NearDedupSettings,
    accepted_history,
    ensure_table,
    find_near_duplicates,
    resign_history,
    signature,
    signature_matrix,
)
from anchormix.engine import LocalEngine
from anchormix.readers import IngestSettings
from anchormix.stages.dedup import SIGNATURES, dedup_drop
from anchormix.stages.ingest import ingest_drop
from anchormix.stages.normalize import normalize_drop
from anchormix.stages.record_batches import run_local


def _datasketch(texts, settings):
    rows = [signature(t if isinstance(t, str) else "", settings) for t in texts]
    return [None if m is None else m.hashvalues.astype(np.uint64) for m in rows]


def _edge_cases(human_texts):
    words = human_texts[0].split()
    return ["", None, "   ", "...", words[0], " ".join(words[:5]), " ".join(words[:6]),
            # A repeated shingle, mixed case and punctuation, and non-ASCII words (\w+ is Unicode).
            " ".join(words[:6] * 3), human_texts[1].upper(), "Straße café naïve " + human_texts[2],
            "日本語 の テキスト " + " ".join(words[:8])]


@pytest.mark.parametrize("settings", [NearDedupSettings(), NearDedupSettings(num_perm=64, shingle_size=3)])
def test_a_batch_signs_like_one_datasketch_minhash_per_text(human_texts, settings):
    texts = human_texts[:400] + _edge_cases(human_texts)
    matrix, has_words = signature_matrix(texts, settings)
    assert matrix.dtype == np.uint64 and matrix.shape == (len(texts), settings.num_perm)
    for text, row, keep, expected in zip(texts, matrix, has_words, _datasketch(texts, settings)):
        assert keep == (expected is not None), text
        if keep:
            assert np.array_equal(row, expected), text
    # Batch boundaries change nothing: one text at a time gives the same rows.
    for i in (0, 17, len(texts) - 1):
        one, mask = signature_matrix(texts[i : i + 1], settings)
        assert mask[0] == has_words[i] and (not mask[0] or np.array_equal(one[0], matrix[i]))


def test_an_empty_batch_signs_to_nothing():
    matrix, has_words = signature_matrix([], NearDedupSettings())
    assert matrix.shape == (0, 128) and has_words.shape == (0,)


def _drop(tmp_path, con, drop, texts, prefix):
    rows = [{"id": f"{prefix}{i:04d}", "url": f"https://example.org/{prefix}{i}", "fetched_at": "2026-11-01T00:00:00Z",
             "text": t, "source": "python-stdlib"} for i, t in enumerate(texts)]
    (tmp_path / drop).mkdir(parents=True, exist_ok=True)
    (tmp_path / drop / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ingest_drop(con, tmp_path, drop, IngestSettings())
    normalize_drop(con, drop)


def _edit(text: str) -> str:
    """Mechanically perturb real text: drop one interior word."""
    words = text.split()
    return " ".join(w for i, w in enumerate(words) if i != len(words) // 2)


def _two_nights(human_texts):
    long = [t for t in human_texts if len(t.split()) >= 40]
    first = long[:120] + [_edit(t) for t in long[:30]] + long[:5]  # near and exact copies within the night
    second = long[120:200] + [_edit(t) for t in long[20:60]] + long[40:45] + ["", "one two"]  # and of history
    return first, second


def _one_call(con, drop, settings):
    """What the stage decided before it signed on the engine: find_near_duplicates on the non-exact records."""
    from anchormix.dedup.exact import exact_duplicates
    from anchormix.store_writes import replace_drop_rows

    exact = dict(exact_duplicates(con, drop))
    frame = con.execute("SELECT n.id, n.norm_text, n.content_hash FROM normalized n JOIN raw_records r USING (id) "
                        "WHERE n.drop = ? ORDER BY r.seq", [drop]).df()
    near = find_near_duplicates(con, frame[~frame["id"].isin(list(exact))], settings)
    found = {**{i: (o, "exact", 1.0) for i, o in exact.items()},
             **{r.id: (r.duplicate_of, "minhash", float(r.similarity)) for r in near.itertuples()}}
    ids = frame["id"].tolist()
    replace_drop_rows(con, "dedup", drop, {
        "id": ids, "drop": [drop] * len(ids), "status": ["duplicate" if i in found else "unique" for i in ids],
        "duplicate_of": [found[i][0] if i in found else None for i in ids],
        "method": [found[i][1] if i in found else None for i in ids],
        "similarity": [found[i][2] if i in found else None for i in ids]})


def _state(con):
    return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in ("dedup", "minhash_signatures", "minhash_bands")}


def test_the_stage_decides_and_stores_what_one_minhash_per_text_does(tmp_path, human_texts):
    import duckdb

    from anchormix.store import init_schema

    settings = NearDedupSettings()
    nights = dict(zip(("2026-11-01", "2026-11-02"), _two_nights(human_texts)))
    stores = []
    for kind in ("one_call", "stage"):
        con = duckdb.connect()
        init_schema(con)
        for drop, texts in nights.items():
            _drop(tmp_path / kind, con, drop, texts, drop[-2:])
            if kind == "stage":
                summary = dedup_drop(con, drop, settings, LocalEngine())
            else:
                _one_call(con, drop, settings)
        summary_again = dedup_drop(con, "2026-11-02", settings) if kind == "stage" else None
        stores.append(con)
    assert summary["minhash"] > 10 and summary["exact"] >= 5  # history and in-night copies were found
    assert summary_again == summary  # a re-run decides the same and stores nothing new
    expected, got = _state(stores[0]), _state(stores[1])
    for table in expected:
        assert got[table] == expected[table], table
    assert {r[4] for r in got["dedup"]} == {None, "exact", "minhash"}


def test_the_signing_transform_reads_only_originals_not_yet_accepted(tmp_path, con, human_texts):
    long = [t for t in human_texts if len(t.split()) >= 40]
    _drop(tmp_path, con, "2026-11-01", long[:20] + long[:3], "a")  # three exact copies
    ensure_table(con)  # the stage runs anchormix.dedup.near.prepare first
    out = run_local(con, SIGNATURES, "2026-11-01", NearDedupSettings())
    assert out.num_rows == 20 and out.column("id").to_pylist() == [f"a{i:04d}" for i in range(20)]
    dedup_drop(con, "2026-11-01", NearDedupSettings())
    assert run_local(con, SIGNATURES, "2026-11-01", NearDedupSettings()).num_rows == 0  # accepted: not signed again


def test_resigning_history_with_the_batch_signer_stores_datasketchs_signatures(tmp_path, con, human_texts):
    _drop(tmp_path, con, "2026-11-01", human_texts[:60], "a")
    dedup_drop(con, "2026-11-01", NearDedupSettings())
    history = accepted_history(con)
    other = NearDedupSettings(num_perm=64, shingle_size=3)
    assert resign_history(con, history, other) == len(history)
    stored = dict(con.execute("SELECT id, hashvalues FROM minhash_signatures").fetchall())
    for rid, expected in zip(history["id"], _datasketch(history["norm_text"].tolist(), other)):
        assert stored[rid] == expected.tolist()
