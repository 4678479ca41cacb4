"""Normalize a drop's raw records into the ``normalized`` table."""

from __future__ import annotations

import duckdb

from anchormix.normalize import content_hash, normalize_text
from anchormix.store_writes import replace_drop_rows


def normalize_drop(con: duckdb.DuckDBPyConnection, drop: str) -> int:
    """(Re)build the normalized rows of ``drop``; returns how many there are."""
    raw = con.execute("SELECT id, text FROM raw_records WHERE drop = ? ORDER BY seq", [drop]).fetchnumpy()
    norms = [normalize_text(text) for text in raw["text"]]
    return replace_drop_rows(con, "normalized", drop, {
        "id": raw["id"].tolist(), "drop": [drop] * len(norms), "norm_text": norms,
        "content_hash": [content_hash(n) for n in norms], "n_chars": [len(n) for n in norms],
        "n_words": [len(n.split()) for n in norms],
    })
