"""The mix stage withholds a tail probe set and values each human source; publish writes both.

A store is filled with real text (standard-library docstrings) and synthetic
vectors in six clusters, one of them rare and held by one source only; the
stages run on it as in a nightly run (gates are recorded as passed, since the
gates themselves are tested elsewhere).
"""

from __future__ import annotations

import hashlib
import json

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from anchormix.baseline import pin_baseline
from anchormix.config import PublishSettings
from anchormix.diversity import TailRule
from anchormix.diversity_gate import GateSettings
from anchormix.embed import EmbeddingCache, EmbeddingSettings, model_id
from anchormix.gates import REQUIRED_GATES, record_gate
from anchormix.mix import MixPolicy
from anchormix.stages.diversity import diversity_drop
from anchormix.stages.mix import build_candidate
from anchormix.stages.publish import publish_drop
from anchormix.stages.states import conservation_frame
from anchormix.store import init_schema
from anchormix.value import ValueSettings

D = 32
NIGHTS = ("2026-11-02", "2026-11-03")
RARE_SOURCE = "tarfile-archive"


def _add_records(con, drop: str, texts: list[str], specs: list[tuple[str, int]], centres, rng, start: int) -> int:
    """Insert human records (source, cluster) with real texts and synthetic vectors; returns the next seq."""
    hashes, vectors = [], []
    for offset, ((source, cluster), text) in enumerate(zip(specs, texts)):
        seq = start + offset
        rid = f"{drop}-{seq:05d}"
        chash = hashlib.sha256(text.encode()).hexdigest()
        con.execute("INSERT INTO raw_records VALUES (?, ?, 'f.jsonl', ?, ?, ?, ?, ?, '{}', NULL, NULL, ?)",
                    [rid, drop, seq, f"https://docs.python.org/{seq}", f"{drop}T00:00:00+00:00", text, source, seq])
        con.execute("INSERT INTO normalized VALUES (?, ?, ?, ?, ?, ?)",
                    [rid, drop, text, chash, len(text), len(text.split())])
        con.execute("INSERT INTO dedup VALUES (?, ?, 'unique', NULL, NULL, NULL)", [rid, drop])
        con.execute("INSERT INTO quality VALUES (?, ?, 1.0, true, '')", [rid, drop])
        con.execute("INSERT INTO provenance VALUES (?, ?, 'human_presumed', 'registered archive')", [rid, drop])
        hashes.append(chash)
        vectors.append(centres[cluster] + 0.15 * rng.normal(size=D))
    EmbeddingCache(con).put(hashes, np.asarray(vectors, dtype=np.float32), model_id(EmbeddingSettings()))
    return start + len(specs)


def _specs(per_common: int, rare: int) -> list[tuple[str, int]]:
    specs = [(["archive-a", "archive-b"][i % 2], c) for c in range(5) for i in range(per_common)]
    return specs + [(RARE_SOURCE, 5)] * rare


def _fill_store(root):
    """The store of both nights and the pinned baseline of night 1's records; returns the connection."""
    from anchormix.demo.docstrings import harvest_stdlib

    texts = [d.text for d in harvest_stdlib()]
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, D))
    con = duckdb.connect(str(root / "store.duckdb"))
    init_schema(con)
    embedding = EmbeddingSettings()
    first = _specs(50, 20)
    seq = _add_records(con, NIGHTS[0], texts[: len(first)], first, centres, rng, 1)
    human = con.execute("SELECT n.content_hash, n.norm_text, n.id FROM normalized n ORDER BY id").fetchall()
    cached = EmbeddingCache(con).get([h for h, _, _ in human], model_id(embedding))
    with pytest.MonkeyPatch.context() as patch:
        # The clusters are given (k-means is tested with the baseline): its centroids are the true centres.
        unit = (centres / np.linalg.norm(centres, axis=1, keepdims=True)).astype(np.float32)
        patch.setattr("anchormix.baseline._kmeans", lambda x, k, seed: unit)
        pin_baseline(np.stack([cached[h] for h, _, _ in human]), model_id(embedding), 6, 0, root / "baseline",
                     texts=[t for _, t, _ in human], ids=[i for _, _, i in human])
    second = _specs(12, 10)
    _add_records(con, NIGHTS[1], texts[len(first): len(first) + len(second)], second, centres, rng, seq)
    return con


def _run_nights(root, publish_per_night, target_size: int = 150) -> dict:
    """Each night's candidate (with its ``[publish]`` probe settings), gates recorded as passed, published."""
    con = _fill_store(root)
    out = {"root": root, "con": con, "candidates": [], "published": []}
    for drop, publish in zip(NIGHTS, publish_per_night):
        diversity_drop(con, drop, root / "baseline", EmbeddingSettings())
        candidate = build_candidate(con, drop, MixPolicy(target_size=target_size), GateSettings(), 0.85, root / "baseline",
                                    EmbeddingSettings(), TailRule(), value=ValueSettings(null_draws=40),
                                    publish=publish)
        for gate in REQUIRED_GATES:
            record_gate(con, candidate["fingerprint"], gate, True, {})
        out["candidates"].append(candidate)
        out["published"].append(publish_drop(con, drop, root / "published"))
    return out


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    publish = PublishSettings(probe_per_cluster=4, probe_cluster_share=0.25)
    out = _run_nights(tmp_path_factory.mktemp("value-probes"), [publish, publish])
    yield out
    out["con"].close()


def _shard_ids_and_hashes(generation_dir):
    table = pq.read_table(generation_dir / "data")
    return set(table.column("id").to_pylist()), set(table.column("content_hash").to_pylist())


def test_the_probe_set_is_disjoint_from_the_published_mix(nights):
    for published in nights["published"]:
        gen = nights["root"] / "published" / f"gen-{published['generation']:06d}"
        probes = pq.read_table(gen / "probes" / "probes.parquet").to_pandas()
        ids, hashes = _shard_ids_and_hashes(gen)
        assert len(probes) == 4 and published["probes"] == str(gen / "probes" / "probes.parquet")
        assert not set(probes["id"]) & ids
        assert not set(probes["content_hash"]) & hashes
        # Human records of the rare cluster, labelled by its terms.
        assert set(probes["source"]) == {RARE_SOURCE}
        assert probes["cluster_label"].str.len().gt(0).all()
        manifest = json.loads((gen / "manifest.json").read_text())
        assert {r["id"] for r in manifest["probes"]["records"]} == set(probes["id"])
        assert not {r["id"] for r in manifest["records"]} & set(probes["id"])


def test_the_probe_set_stays_the_same_across_generations_and_never_held_a_published_record(nights):
    root, con = nights["root"] / "published", nights["con"]
    first, second = (pq.read_table(root / f"gen-{p['generation']:06d}" / "probes" / "probes.parquet")
                     .to_pandas() for p in nights["published"])
    assert [p["generation"] for p in nights["published"]] == [1, 2]
    assert set(first["id"]) == set(second["id"])
    ever = {r[0] for r in con.execute("SELECT id FROM published_records").fetchall()}
    assert not ever & set(second["id"])
    assert nights["candidates"][1]["probes"]["kept_from_previous"] == 4


def test_probe_records_are_held_with_their_own_reason(nights):
    fp = nights["candidates"][0]["fingerprint"]
    rows = dict(nights["con"].execute(
        "SELECT detail, n FROM record_states WHERE fingerprint = ? AND state = 'held'", [fp]).fetchall())
    assert rows["tail probe, withheld from training"] == 4


def test_the_value_report_names_the_sole_provider_of_the_rare_cluster(nights):
    value = nights["candidates"][0]["value"]
    top = value["sources"][0]
    assert top["source"] == RARE_SOURCE and top["verdict"] == "valuable"
    assert len(top["sole_clusters"]) == 1 and top["sole_clusters"][0].startswith("c")
    card = (nights["root"] / "published" / "gen-000001" / "README.md").read_text()
    assert "## Value of each human source" in card and "## Tail probe set" in card
    assert f"| {RARE_SOURCE} |" in card and top["sole_clusters"][0] in card


def test_the_run_summary_and_anchormix_value_name_the_top_sources_and_the_probe_set(nights, monkeypatch, capsys):
    from contextlib import contextmanager
    from types import SimpleNamespace

    import anchormix.cli as cli
    import anchormix.store
    from anchormix.report import drop_summary, format_summary

    con = nights["con"]
    text = format_summary(drop_summary(con, NIGHTS[1]))
    assert "top human sources by value" in text
    assert f"    {RARE_SOURCE}: valuable" in text.splitlines()[text.splitlines().index(
        next(line for line in text.splitlines() if "top human sources by value" in line)) + 1]
    assert f"tail probe set: 4 held-out human records of 1 rare cluster withheld by this candidate; this " \
           f"generation's at {nights['published'][1]['probes']}" in text

    @contextmanager
    def same_store(path, read_only=False):
        yield con

    monkeypatch.setattr(anchormix.store, "connect_store", same_store)
    monkeypatch.setattr(cli, "_settings", lambda: SimpleNamespace(paths=SimpleNamespace(store="unused")))
    assert cli.main(["value", NIGHTS[0]]) == 0
    out = capsys.readouterr().out
    assert f"drop {NIGHTS[0]}" in out and RARE_SOURCE in out and "sole_rare_clusters" in out
    assert nights["candidates"][0]["value"]["sources"][0]["sole_clusters"][0] in out
    assert cli.main(["value", "1999-01-01"]) == 1


def test_a_probe_the_cap_drops_never_reaches_a_later_mix(tmp_path):
    # Night 2 lowers probe_per_cluster from 4 to 1: three of gen 1's probes leave the set. Model teams still
    # score gen 1's probe file, so those three must stay out of training, held with their own reason. The mix
    # has room for every eligible record, so nothing but the withholding keeps them out.
    out = _run_nights(tmp_path, [PublishSettings(probe_per_cluster=4, probe_cluster_share=0.25),
                                 PublishSettings(probe_per_cluster=1, probe_cluster_share=0.25)], target_size=1000)
    con = out["con"]
    first, second = (pq.read_table(tmp_path / "published" / f"gen-{p['generation']:06d}" / "probes" /
                                   "probes.parquet").to_pandas() for p in out["published"])
    dropped = set(first["id"]) - set(second["id"])
    assert len(first) == 4 and len(second) == 1 and len(dropped) == 3
    ids, hashes = _shard_ids_and_hashes(tmp_path / "published" / "gen-000002")
    assert not dropped & ids and not set(first["content_hash"]) & hashes
    fp = out["candidates"][1]["fingerprint"]
    assert not con.execute("SELECT count(*) FROM candidate_records WHERE fingerprint = ? AND id IN "
                           "(SELECT unnest(?))", [fp, sorted(dropped)]).fetchone()[0]
    held = dict(con.execute("SELECT detail, n FROM record_states WHERE fingerprint = ? AND state = 'held'",
                            [fp]).fetchall())
    assert held["former tail probe, never trained on"] == 3 and held["tail probe, withheld from training"] == 1
    # Each record still in exactly one terminal state (this store has no ingest tallies: count its records).
    conservation = conservation_frame(con, NIGHTS[1], fp).iloc[0]
    n_records = con.execute("SELECT count(*) FROM raw_records").fetchone()[0]
    assert conservation["terminal_total"] == n_records == 340 and conservation["unaccounted"] == 0
    con.close()
