"""The Ray engine gives the local engine's rows, survives a killed worker, and leaves no partial output.

One local Ray (``num_cpus=2``, about 4 s to start) serves the whole module;
``-m 'not ray'`` deselects these tests.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import duckdb
import pytest


from anchormix.dedup.near import NearDedupSettings  # noqa: E402
from anchormix.engine import EngineSettings, make_engine  # noqa: E402
from anchormix.engine.ray_engine import RayEngine  # noqa: E402
from anchormix.quality import QualitySettings  # noqa: E402
from anchormix.readers import IngestSettings  # noqa: E402
from anchormix.stages.dedup import dedup_drop  # noqa: E402
from anchormix.stages.ingest import ingest_drop  # noqa: E402
from anchormix.stages.normalize import NORMALIZE, normalize_batch, normalize_drop  # noqa: E402
from anchormix.stages.quality import quality_drop  # noqa: E402
from anchormix.stages.record_batches import RecordTransform  # noqa: E402
from anchormix.store import init_schema  # noqa: E402

pytestmark = pytest.mark.ray

DROP = "2026-11-01"
# Small shards, so a drop of a few hundred records is several Ray tasks.
SHARDED = EngineSettings(kind="ray", shard_rows=64, max_retries=3)


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray for the module; engines join it and leave it running."""
    import ray  # at run time, not collection: see tests/conftest.py, pytest_collection_modifyitems

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    # The fns below live in this test module, which Ray's workers cannot import: ship them by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    ray.shutdown()


def _store():
    con = duckdb.connect(":memory:")
    init_schema(con)
    return con


def _ingested(inbox: Path, texts: list[str]) -> duckdb.DuckDBPyConnection:
    """A store holding ``texts`` (real docstrings) as one drop's raw records."""
    if not (inbox / DROP).exists():
        (inbox / DROP).mkdir(parents=True)
        rows = [{"id": f"r{i:04d}", "url": f"https://example.org/{i}", "fetched_at": "2026-11-01T00:00:00Z",
                 "text": t, "source": "python-stdlib"} for i, t in enumerate(texts)]
        (inbox / DROP / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    con = _store()
    ingest_drop(con, inbox, DROP, IngestSettings())
    return con


def _rows(con, table: str) -> list[tuple]:
    # In stored order, not sorted: the Ray engine loads rows in the order the local engine writes them.
    return con.execute(f"SELECT * FROM {table}").fetchall()


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def texts(human_texts):
    # Real text, plus whitespace and case variants of it (exact duplicates after normalizing, and not),
    # and an empty record (quarantined at ingest): the edge cases normalize and quality must agree on.
    base = human_texts[:400]
    return base + ["  " + base[0].replace(" ", "  ") + "\r\n", base[1].upper(), ""]


def test_ray_gives_the_local_engines_normalized_and_quality_rows(tmp_path, texts, ray_cluster):
    local, on_ray = _ingested(tmp_path / "inbox", texts), _ingested(tmp_path / "inbox", texts)
    engine = make_engine(SHARDED, str(tmp_path / "data"))
    loaded = local.execute("SELECT count(*) FROM raw_records").fetchall()[0][0]
    assert (normalize_drop(local, DROP), normalize_drop(on_ray, DROP, engine)) == (loaded, loaded)
    assert _rows(on_ray, "normalized") == _rows(local, "normalized")

    for con in (local, on_ray):
        dedup_drop(con, DROP, NearDedupSettings())
    summaries = quality_drop(local, DROP, QualitySettings()), quality_drop(on_ray, DROP, QualitySettings(), engine)
    assert summaries[0] == summaries[1] and summaries[0]["failed"] > 0  # some rule fails: not a trivial match
    assert _rows(on_ray, "quality") == _rows(local, "quality")

    # The Parquet output holds every record of the drop, once; staging is cleaned up.
    import pyarrow.parquet as pq

    from anchormix.engine import shards

    fs, root = shards.open_root(str(tmp_path / "data"))
    files = shards.committed_files(fs, f"{root}/normalized/{DROP}")
    out = pq.read_table(files, filesystem=fs)
    assert sorted(out.column("id").to_pylist()) == sorted(r[0] for r in _rows(local, "normalized"))
    assert not list((tmp_path / "data" / "_staging").rglob("*.parquet"))
    engine.close()
    import ray

    assert ray.is_initialized()  # a Ray the engine joined keeps running


class KillOnce:
    """``fn``, except that its first call in a Ray worker kills that worker (SIGKILL, as the OOM killer does)."""

    def __init__(self, marker: Path, fn):
        self.marker, self.fn, self.driver = marker, fn, os.getpid()

    def __call__(self, batch, settings=None):
        if os.getpid() != self.driver and not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), 9)
        return self.fn(batch, settings)


class FailOn:
    """``fn``, except that it raises on the batch holding record ``bad`` (a bug, not retried)."""

    def __init__(self, bad: str, fn):
        self.bad, self.fn = bad, fn

    def __call__(self, batch, settings=None):
        if self.bad in batch.column("id").to_pylist():
            raise ValueError(f"cannot transform {self.bad}")
        return self.fn(batch, settings)


def _normalize_with(fn) -> RecordTransform:
    return RecordTransform(NORMALIZE.name, NORMALIZE.source_sql, NORMALIZE.table, NORMALIZE.schema, fn)


def test_a_killed_worker_is_retried_and_the_output_is_complete(tmp_path, texts, ray_cluster):
    local, on_ray = _ingested(tmp_path / "inbox", texts), _ingested(tmp_path / "inbox", texts)
    normalize_drop(local, DROP)
    marker = tmp_path / "killed"
    out = RayEngine(SHARDED, str(tmp_path / "data")).run(on_ray, _normalize_with(KillOnce(marker, normalize_batch)),
                                                         DROP)
    assert marker.exists() and int(marker.read_text()) != os.getpid()  # a worker did die
    assert out.num_rows == on_ray.execute("SELECT count(*) FROM raw_records").fetchall()[0][0]
    assert _rows(on_ray, "normalized") == _rows(local, "normalized")


def test_a_worker_killed_more_often_than_max_retries_fails_the_stage_with_no_output(tmp_path, texts, ray_cluster):
    con = _ingested(tmp_path / "inbox", texts)
    no_retry = EngineSettings(kind="ray", shard_rows=64, max_retries=0)
    with pytest.raises(Exception):
        RayEngine(no_retry, str(tmp_path / "data")).run(
            con, _normalize_with(KillOnce(tmp_path / "killed", normalize_batch)), DROP)
    assert (tmp_path / "killed").exists()
    assert not (tmp_path / "data" / "normalized" / DROP).exists() and _rows(con, "normalized") == []


def test_a_stage_that_fails_for_good_changes_neither_parquet_nor_duckdb(tmp_path, texts, ray_cluster):
    con = _ingested(tmp_path / "inbox", texts)
    data = tmp_path / "data"
    engine = RayEngine(SHARDED, str(data))
    # A drop never run: the failure leaves no output directory at all.
    with pytest.raises(Exception, match="cannot transform r0300"):
        engine.run(con, _normalize_with(FailOn("r0300", normalize_batch)), DROP)
    assert not (data / "normalized" / DROP).exists()
    assert _rows(con, "normalized") == []

    # A drop with earlier output: the failure keeps that output and its rows, byte for byte.
    engine.run(con, NORMALIZE, DROP)
    before, rows = _tree(data / "normalized"), _rows(con, "normalized")
    with pytest.raises(Exception, match="cannot transform r0300"):
        engine.run(con, _normalize_with(FailOn("r0300", normalize_batch)), DROP)
    assert _tree(data / "normalized") == before and _rows(con, "normalized") == rows
    assert not list((data / "_staging").rglob("*.parquet"))


def test_a_failed_load_puts_the_previous_output_back(tmp_path, texts, ray_cluster, monkeypatch):
    con = _ingested(tmp_path / "inbox", texts)
    data = tmp_path / "data"
    engine = RayEngine(SHARDED, str(data))
    engine.run(con, NORMALIZE, DROP)
    before, rows = _tree(data / "normalized"), _rows(con, "normalized")

    def broken_load(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("anchormix.engine.ray_engine.replace_drop_rows", broken_load)
    with pytest.raises(OSError, match="disk full"):
        engine.run(con, NORMALIZE, DROP)
    assert _tree(data / "normalized") == before and _rows(con, "normalized") == rows


def test_an_empty_drop_on_ray_gives_an_empty_output_and_no_rows(tmp_path, ray_cluster):
    con = _store()
    data = tmp_path / "data"
    out = RayEngine(SHARDED, str(data)).run(con, NORMALIZE, "2026-11-09")  # no raw records: Ray is not asked
    assert out.num_rows == 0 and _rows(con, "normalized") == []
    # Committed, with no rows: a reader finds the drop's output empty, not missing.
    marker = json.loads((data / "normalized" / "2026-11-09" / "_COMMITTED").read_text())
    assert marker["rows"] == 0 and not list((data / "normalized").rglob("*.parquet"))


def _edited(text: str) -> str:
    """Mechanically perturb real text: drop one interior word (a near duplicate of it)."""
    words = text.split()
    return " ".join(w for i, w in enumerate(words) if i != len(words) // 2)


def _dedup_state(con) -> dict:
    return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in ("dedup", "minhash_signatures", "minhash_bands")}


def test_ray_signs_and_the_driver_decides_the_local_engines_near_duplicates(tmp_path, texts, ray_cluster):
    long = [t for t in texts if len(t.split()) >= 40]
    drop_texts = texts + [_edited(t) for t in long[:40]]
    local, on_ray = _ingested(tmp_path / "inbox", drop_texts), _ingested(tmp_path / "inbox", drop_texts)
    engine = make_engine(SHARDED, str(tmp_path / "data"))
    for con, eng in ((local, None), (on_ray, engine)):
        normalize_drop(con, DROP)
    summaries = dedup_drop(local, DROP, NearDedupSettings()), dedup_drop(on_ray, DROP, NearDedupSettings(), engine)
    assert summaries[0] == summaries[1] and summaries[0]["minhash"] >= 20 and summaries[0]["exact"] >= 1
    assert _dedup_state(on_ray) == _dedup_state(local)  # duplicate_of links, stored signatures and band keys
    # Signatures go back to the driver: no Parquet is kept for them, and staging is cleaned up.
    assert not (tmp_path / "data" / "minhash_signatures").exists()
    assert not list((tmp_path / "data" / "_staging").rglob("*.parquet"))


def _static_artifact(path: Path) -> Path:
    """A static embedder with random token vectors (MiniLM's tokenizer): real vectors are not needed to compare
    two engines, only the same ones."""
    import numpy as np

    from anchormix.fast_embed import write_artifact

    rng = np.random.default_rng(0)
    write_artifact(path, rng.standard_normal((30522, 24)).astype("float32"), np.zeros(24, "float32"), tau=0.9)
    return path


def _deduplicated(inbox: Path, texts: list[str]) -> duckdb.DuckDBPyConnection:
    con = _ingested(inbox, texts)
    normalize_drop(con, DROP)
    dedup_drop(con, DROP, NearDedupSettings())
    return con


def _vectors(con) -> dict:
    from anchormix.embed import EmbeddingCache

    cache = EmbeddingCache(con)
    return {h: cache.matrix([h], m)[0][0] for h, m in
            con.execute("SELECT content_hash, model_id FROM embedding_cache ORDER BY content_hash").fetchall()}


@pytest.mark.parametrize("backend", ["static", "sentence_transformers"])
def test_embeddings_on_a_ray_actor_pool_equal_the_local_paths(tmp_path, texts, ray_cluster, backend):
    import numpy as np

    from anchormix.embed import EmbeddingSettings
    from anchormix.stages.embed import embed_drop

    settings = (EmbeddingSettings(backend="static", static_path=str(_static_artifact(tmp_path / "static")))
                if backend == "static" else EmbeddingSettings())
    sample = texts[:150] + texts[-3:]
    local, on_ray = _deduplicated(tmp_path / "inbox", sample), _deduplicated(tmp_path / "inbox", sample)
    engine = make_engine(SHARDED, str(tmp_path / "data"))
    expected, got = embed_drop(local, DROP, settings), embed_drop(on_ray, DROP, settings, engine)
    assert expected["cache_misses"] > 100
    for key in ("records", "new_in_drop", "cache_hits", "cache_misses", "model_id", "dim"):
        assert got[key] == expected[key], key
    want, have = _vectors(local), _vectors(on_ray)
    assert sorted(have) == sorted(want)
    for h, vector in want.items():
        if backend == "static":  # a sparse product per row: bit for bit whatever the batch
            assert np.array_equal(have[h], vector)
        else:  # MiniLM pads each batch to its longest text and sums in another order: float rounding only
            np.testing.assert_allclose(have[h], vector, rtol=0, atol=1e-6)
    # A second night with nothing new asks Ray for nothing and counts every vector as a hit.
    again = embed_drop(on_ray, DROP, settings, engine)
    assert again["cache_misses"] == 0 and again["cache_hits"] == expected["cache_hits"] + expected["cache_misses"]


class CountLoads:
    """A transform's ``load`` and ``fn`` that write the pid of the process running them, one line each."""

    def __init__(self, folder: Path):
        self.folder = folder

    def load(self, settings=None):
        with open(self.folder / "loads", "a") as f:
            f.write(f"{os.getpid()}\n")

    def __call__(self, batch, settings=None):
        with open(self.folder / "batches", "a") as f:
            f.write(f"{os.getpid()}\n")
        return normalize_batch(batch, settings)


def _on_actors(fn, load) -> RecordTransform:
    return RecordTransform("normalize_on_actors", NORMALIZE.source_sql, None, NORMALIZE.schema, fn, load=load)


def test_a_model_loading_transform_loads_once_per_actor_of_the_pool(tmp_path, texts, ray_cluster):
    con = _ingested(tmp_path / "inbox", texts)
    counter = CountLoads(tmp_path)
    engine = RayEngine(SHARDED, str(tmp_path / "data"))
    n = con.execute("SELECT count(*) FROM raw_records").fetchall()[0][0]
    pool = engine.actor_pool(_on_actors(counter, counter.load), None, n)
    assert pool["size"] == 1 and pool["gpus"] == 0 and pool["batch_rows"] == 64  # num_cpus=2 less one, no GPU
    assert engine.actor_pool(_on_actors(counter, counter.load), None, 10)["size"] == 1  # one batch, one actor

    out = engine.run(con, _on_actors(counter, counter.load), DROP)
    normalize_drop(con, DROP)
    assert out.drop_columns(["drop"]).to_pylist() == con.sql(
        "SELECT * EXCLUDE (drop) FROM normalized").to_arrow_table().to_pylist()
    loads = (tmp_path / "loads").read_text().split()
    batches = (tmp_path / "batches").read_text().split()
    assert len(loads) == len(set(loads)) <= 2  # one load per actor
    assert set(batches) <= set(loads) and len(batches) >= n // 64  # every batch ran on an actor that had loaded


def test_an_actor_killed_mid_batch_is_restarted_and_the_output_is_complete(tmp_path, texts, ray_cluster):
    con = _ingested(tmp_path / "inbox", texts)
    marker = tmp_path / "killed"
    counter = CountLoads(tmp_path)
    out = RayEngine(SHARDED, str(tmp_path / "data")).run(
        con, _on_actors(KillOnce(marker, counter), counter.load), DROP)
    assert marker.exists() and int(marker.read_text()) != os.getpid()  # an actor did die
    normalize_drop(con, DROP)
    assert out.drop_columns(["drop"]).to_pylist() == con.sql(
        "SELECT * EXCLUDE (drop) FROM normalized").to_arrow_table().to_pylist()
    assert len((tmp_path / "loads").read_text().split()) >= 2  # the restarted actor loaded again


def test_detector_verdicts_on_ray_equal_the_in_process_ones(tmp_path, texts, ray_cluster):
    import hashlib

    import numpy as np

    from anchormix.demo.markov import MarkovModel
    from anchormix.provenance.detector import DetectorSettings, default_embedder, train_detector
    from anchormix.provenance.labeler import score_in_process
    from anchormix.stages.detector_scores import engine_scorer

    human = [t for t in texts[:-3] if len(t.split()) >= 40]
    machine = MarkovModel.train(human[:150]).generate(220, seed=5)
    vectors: dict[str, np.ndarray] = {}
    model = default_embedder()

    def embed(hashes, batch):  # the real model, memoised as the embedding cache would
        todo = [(h, t) for h, t in zip(hashes, batch) if h not in vectors]
        if todo:
            vectors.update(zip([h for h, _ in todo], model([h for h, _ in todo], [t for _, t in todo])))
        return np.stack([vectors[h] for h in hashes])

    train = human[:100] + machine[:100]
    det, report = train_detector([f"t{i}" for i in range(len(train))], train, [0] * 100 + [1] * 100,
                                 DetectorSettings(), tmp_path / "models",
                                 sources=["archive"] * 100 + ["gen-a"] * 50 + ["gen-b"] * 50, embed=embed)
    assert det is not None, report.get("reason")
    # Unseen human and machine text, a too-short text and an empty one (both abstain).
    todo = human[100:220] + machine[100:220] + [" ".join(human[0].split()[:5]), ""]
    hashes = [hashlib.sha256(t.encode()).hexdigest() for t in todo]

    want = score_in_process(det, todo, hashes, embed)
    got = engine_scorer(duckdb.connect(), DROP, make_engine(SHARDED, str(tmp_path / "data")))(det, todo, hashes, embed)
    local = engine_scorer(duckdb.connect(), DROP)(det, todo, hashes, embed)
    assert [a.verdict for a in got] == [a.verdict for a in want] == [a.verdict for a in local]
    assert [a.reason for a in got] == [a.reason for a in want]
    for a, b in zip(got, want):
        assert (a.score is None) == (b.score is None)
        if a.score is not None:
            assert abs(a.score - b.score) < 1e-9
    verdicts = {a.verdict for a in got}
    assert {"suspected", "abstained"} <= verdicts and len(verdicts) >= 3  # not a trivial agreement
    assert not list((tmp_path / "data" / "_staging").rglob("*.parquet"))  # staging is cleaned up


@pytest.fixture
def s3(tmp_path):
    """A bucket on a local S3 endpoint (moto's server: the S3 API, no network) and a pyarrow filesystem on it."""
    import pyarrow.fs as pafs

    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    fs = pafs.S3FileSystem(access_key="test", secret_key="test", region="us-east-1", scheme="http",
                           endpoint_override=f"{host}:{port}", allow_bucket_creation=True)
    fs.create_dir("nightly")
    yield fs
    server.stop()


def test_ray_commits_to_an_object_store_without_renames_and_readers_see_one_whole_run(tmp_path, texts, s3,
                                                                                     ray_cluster, monkeypatch):
    from anchormix.engine import shards

    local, on_ray = _ingested(tmp_path / "inbox", texts), _ingested(tmp_path / "inbox", texts)
    normalize_drop(local, DROP)
    engine = RayEngine(SHARDED, "nightly/data", filesystem=s3)
    drop_dir = f"nightly/data/normalized/{DROP}"

    normalize_drop(on_ray, DROP, engine)
    assert _rows(on_ray, "normalized") == _rows(local, "normalized")
    first = shards.committed_run(s3, drop_dir)
    import pyarrow.parquet as pq

    stored = pq.read_table(shards.committed_files(s3, drop_dir), filesystem=s3)
    assert sorted(stored.column("id").to_pylist()) == sorted(r[0] for r in _rows(local, "normalized"))

    # A second run whose DuckDB load fails leaves the first run committed and nothing of its own.
    def broken_load(*args, **kwargs):
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr("anchormix.engine.ray_engine.replace_drop_rows", broken_load)
        with pytest.raises(OSError, match="disk full"):
            engine.run(on_ray, NORMALIZE, DROP)
    assert shards.committed_run(s3, drop_dir) == first
    import pyarrow.fs as pafs

    listing = {i.base_name for i in s3.get_file_info(pafs.FileSelector(drop_dir))}
    assert listing == {"_COMMITTED", first.rsplit("/", 1)[1]}

    # A run that succeeds replaces it: one run directory remains, and staging is empty.
    engine.run(on_ray, NORMALIZE, DROP)
    second = shards.committed_run(s3, drop_dir)
    assert second != first
    assert {i.base_name for i in s3.get_file_info(pafs.FileSelector(drop_dir))} == {"_COMMITTED",
                                                                                     second.rsplit("/", 1)[1]}
    assert not [i for i in s3.get_file_info(pafs.FileSelector("nightly/data/_staging", recursive=True,
                                                              allow_not_found=True)) if i.is_file]
    with pytest.raises(OSError):  # the rename the earlier layout needed: S3 has none for a directory
        s3.move(second, f"{drop_dir}/elsewhere")


def test_on_a_cluster_with_gpus_minilm_actors_take_one_gpu_each_and_the_static_model_stays_on_cpus(monkeypatch):
    import ray

    from anchormix.embed import EmbeddingSettings
    from anchormix.stages.embed import EMBED

    # No GPU on this machine: the pool is planned against the resources a GPU cluster reports.
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 16.0, "GPU": 2.0})
    engine = RayEngine(EngineSettings(kind="ray"), "unused")
    minilm = engine.actor_pool(EMBED, EmbeddingSettings(), 100_000)
    assert (minilm["size"], minilm["gpus"], minilm["cpus"]) == (2, 1, 1)  # one actor per GPU
    assert minilm["settings"].device == "cuda" and EmbeddingSettings().device != "cuda"
    static = engine.actor_pool(EMBED, EmbeddingSettings(backend="static"), 1_000_000)
    assert static["gpus"] == 0 and static["size"] == 15  # CPUs less one for reading and writing
    assert static["settings"].backend == "static"
    # One batch of work: one actor, however many GPUs (each actor pays a model load).
    assert engine.actor_pool(EMBED, EmbeddingSettings(), 10)["size"] == 1
