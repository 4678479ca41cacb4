"""The demo's first night on the local engine and on a local Ray gives the same curation, gates and generation.

One demo inbox (built once, so both stores see the same bytes and keys) runs
through the runner twice, in two project roots that differ only in
``[engine] kind``; the Ray run starts and stops its own local Ray
(``num_cpus = 2``). Compared: every record's terminal state, the
``duplicate_of`` links and the stored MinHash signatures and band keys (signed
on Ray workers, decided on the driver), the embedding vectors (MiniLM on a Ray
actor pool: equal to 1e-6), provenance classes, gate verdicts and the published
manifest's records and shard hashes (its timestamps and card differ by design).
"""

from __future__ import annotations

import json
import shutil
from datetime import date

import pytest


pytestmark = [pytest.mark.slow, pytest.mark.ray]

NIGHT = date(2026, 11, 2)


def _config(root, kind: str):
    from anchormix.config import load_settings

    (root / "anchormix.toml").write_text(
        '[paths]\ninbox = "inbox"\nstore = "store.duckdb"\npublished = "published"\nregistry = "sources.toml"\n'
        'models = "models"\nbaseline = "baseline"\nruns = "runs"\ndata_root = "data"\n'
        '[mix]\ntarget_size = 450\n'
        '[publish]\nsigning_key = "keys/anchormix-demo-publisher.pem"\nkey_id = "anchormix-demo-publisher"\n'
        f'[engine]\nkind = "{kind}"\nnum_cpus = 2\nshard_rows = 200\n')
    return load_settings(root / "anchormix.toml")


def _night(root, kind: str) -> dict:
    """Curate, pin the baseline, then run night 1 to publication; what the engines must agree on."""
    from anchormix.runner import curate_drop, pin_baseline, run_drop
    from anchormix.store import connect_store, init_schema

    settings = _config(root, kind)
    drop = NIGHT.isoformat()
    # A connection per step, as the Dagster job opens one per asset.
    for step in (curate_drop, pin_baseline, run_drop):
        con = connect_store(str(settings.paths.store))
        init_schema(con)
        out = step(con, drop, settings)
        con.close()
    con = connect_store(str(settings.paths.store))
    fingerprint = con.execute("SELECT fingerprint FROM candidates ORDER BY created_at DESC LIMIT 1").fetchall()[0][0]
    seen = {
        "normalized": con.execute("SELECT * FROM normalized ORDER BY id").fetchall(),
        "quality": con.execute("SELECT * FROM quality ORDER BY id").fetchall(),
        "duplicate_of": con.execute("SELECT id, status, duplicate_of, method FROM dedup ORDER BY id").fetchall(),
        "signatures": con.execute("SELECT * FROM minhash_signatures ORDER BY id").fetchall(),
        "bands": con.execute("SELECT * FROM minhash_bands ORDER BY ALL").fetchall(),
        "classes": con.execute("SELECT id, class FROM provenance ORDER BY id").fetchall(),
        "states": con.execute("SELECT state, detail, n FROM record_states WHERE fingerprint = ? ORDER BY ALL",
                              [fingerprint]).fetchall(),
        "gates": con.execute("SELECT gate, passed FROM gate_results WHERE fingerprint = ? ORDER BY gate",
                             [fingerprint]).fetchall(),
        "fingerprint": fingerprint,
        "published": out["published"] is not None,
    }
    from anchormix.embed import EmbeddingCache

    cache = EmbeddingCache(con)
    keys = con.execute("SELECT content_hash, model_id FROM embedding_cache ORDER BY ALL").fetchall()
    vectors = [(h, m, cache.matrix([h], m)[0][0].tolist()) for h, m in keys]
    [path] = con.execute("SELECT path FROM publications").fetchall()[0]
    manifest = json.loads((settings.paths.published / path / "manifest.json").read_text())  # absolute path wins
    seen["manifest_records"] = manifest["records"]
    seen["manifest_shards"] = manifest["shards"]
    con.close()
    return seen, vectors


def test_the_first_demo_night_is_the_same_on_ray(tmp_path):
    from anchormix.demo.inbox import build_demo_inbox

    local, on_ray = tmp_path / "local", tmp_path / "ray"
    local.mkdir()
    build_demo_inbox(local / "inbox", local / "sources.toml", local / "keys", nights=[NIGHT], scale=0.5)
    shutil.copytree(local, on_ray)

    (expected, expected_vectors), (got, got_vectors) = _night(local, "local"), _night(on_ray, "ray")
    assert expected["published"] and got["published"]
    assert len(expected["normalized"]) > 100 and len(expected["signatures"]) > 100
    for key in expected:
        assert got[key] == expected[key], key
    import numpy as np

    assert [v[:2] for v in got_vectors] == [v[:2] for v in expected_vectors] and len(expected_vectors) > 100
    np.testing.assert_allclose(np.array([v[2] for v in got_vectors]), np.array([v[2] for v in expected_vectors]),
                               rtol=0, atol=1e-6)
    assert (on_ray / "data" / "normalized" / NIGHT.isoformat()).is_dir()
    import ray

    assert not ray.is_initialized()  # the runner stopped the local Ray it started
    assert not (local / "data").exists()  # the local engine writes no Parquet
