"""The fast static embedder: artifact loading, output contract, model id, near-duplicates.

A tiny artifact is distilled from the bundled MiniLM for just the tokens of the
test texts (real standard-library docstrings), so the suite needs no build.
"""

from __future__ import annotations

import inspect
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from anchormix import fast_embed as fe

# Standard-library objects whose docstrings have two or more sentences: real human text.
_OBJECTS = ("json.dumps", "json.loads", "os.makedirs", "os.walk", "shutil.copytree", "shutil.rmtree",
            "textwrap.dedent", "textwrap.wrap", "inspect.getdoc", "pathlib.Path.glob", "subprocess.run",
            "functools.lru_cache", "itertools.groupby", "collections.namedtuple", "tempfile.mkstemp",
            "zipfile.ZipFile.extractall")


def _docstrings() -> list[str]:
    import importlib

    texts = []
    for dotted in _OBJECTS:
        parts = dotted.split(".")
        obj = importlib.import_module(parts[0])
        for part in parts[1:]:
            obj = getattr(obj, part)
        doc = fe.docstring_prose(inspect.getdoc(obj) or "")
        if len(doc.split()) >= 15:
            texts.append(doc)
    return texts


@pytest.fixture(scope="module")
def texts() -> list[str]:
    found = _docstrings()
    assert len(found) >= 10
    return found


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    """A small build through the real recipe: docstrings of a few standard-library packages (none of the
    test texts' modules), MiniLM as the teacher, only the corpus's tokens distilled."""
    import sysconfig

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    out = tmp_path_factory.mktemp("fast") / "artifact"
    fe.build(out, roots=[stdlib / name for name in ("asyncio", "email", "multiprocessing", "logging")],
             max_train=300, calibration_texts=100, epochs=4, only_used_tokens=True, log=lambda _: None)
    return out


def test_vectors_are_unit_float32_rows_in_input_order(artifact, texts):
    model = fe.FastEmbedder.load(artifact)
    batch = texts + ["", "   ", "naïve café — 東京"]
    v = model.encode(batch)
    assert v.dtype == np.float32 and v.shape == (len(batch), 384) and model.dim == 384
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert model.encode([]).shape == (0, 384)
    # Row i depends on text i only: order and batch size do not matter.
    np.testing.assert_allclose(model.encode(batch[::-1])[::-1], v, atol=1e-6)
    np.testing.assert_allclose(model.encode(batch, batch_size=3), v, atol=1e-6)


def test_deterministic_across_loads(artifact, texts):
    a = fe.FastEmbedder.load(artifact)
    b = fe.FastEmbedder.load(artifact)
    assert a.model_id == b.model_id
    assert np.array_equal(a.encode(texts), b.encode(texts))


def test_model_id_is_its_own_and_follows_the_artifact(artifact, tmp_path):
    from anchormix.embed import EmbeddingSettings, model_id

    model = fe.FastEmbedder.load(artifact)
    assert model.model_id.startswith(fe.MODEL_ID_PREFIX)
    assert model.model_id != model_id(EmbeddingSettings())
    assert 0.5 < model.tau < 1.0
    changed = model.embeddings.copy()
    changed[1000] += 1.0
    other = fe.write_artifact(tmp_path / "other", changed, model.bias, tau=0.9)
    assert other.model_id != model.model_id


def test_near_duplicates_score_above_unrelated_texts(artifact, texts):
    model = fe.FastEmbedder.load(artifact)
    v = model.encode(texts)
    sims = v @ v.T
    np.fill_diagonal(sims, -1)
    rng = np.random.default_rng(1)
    for i, text in enumerate(texts):
        for kind in fe.EDIT_KINDS:
            edited, _ = fe.near_duplicate(text, rng, kind)
            s = float(model.encode([edited])[0] @ v[i])
            assert s > sims[i].max(), (kind, text[:60], s, sims[i].max())
    # Re-wrapping and re-casing do not change MiniLM's tokens (it is uncased), so nor the vector.
    for kind in ("rewrap", "recase"):
        np.testing.assert_allclose(model.encode([fe.near_duplicate(texts[0], rng, kind)[0]])[0], v[0], atol=1e-6)


def test_reads_only_minilms_window(artifact, texts):
    model = fe.FastEmbedder.load(artifact)
    long = " ".join(texts)
    ids = model.token_ids([long])[0]
    assert len(ids) == fe.MAX_SEQ_LENGTH and ids[0] == 101 and ids[-1] == 102  # [CLS] ... [SEP]
    # What lies past the 128-token window changes nothing, as for MiniLM.
    np.testing.assert_array_equal(model.encode([long + " " + texts[0]]), model.encode([long + " " + texts[1]]))


def test_position_weights_are_learned_and_pooling_is_a_weighted_mean(artifact, texts):
    model = fe.FastEmbedder.load(artifact)
    assert model.positions.shape == (fe.MAX_SEQ_LENGTH,) and (model.positions > 0).all()
    assert not np.allclose(model.positions, 1.0)  # fitted, not the plain mean it starts from
    ids = model.token_ids(texts[:3])
    uniform = fe._pool(ids, model.embeddings, model.bias, np.ones(fe.MAX_SEQ_LENGTH, np.float32))
    np.testing.assert_allclose(uniform, fe._pool(ids, model.embeddings, model.bias), atol=1e-6)
    by_hand = []
    for x in ids:
        g = model.positions[: len(x)]
        v = (g[:, None] * model.embeddings[x]).sum(0) / g.sum() + model.bias
        by_hand.append(v / np.linalg.norm(v))
    np.testing.assert_allclose(model.encode(texts[:3]), np.array(by_hand), atol=1e-5)


def test_missing_artifact_names_the_build_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="anchormix.fast_embed build"):
        fe.FastEmbedder.load(tmp_path / "nothing")


def test_other_format_is_refused(artifact, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(artifact, copy)
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "format": 99}))
    with pytest.raises(ValueError, match="format"):
        fe.FastEmbedder.load(copy)


def test_near_duplicate_edits(texts):
    rng = np.random.default_rng(0)
    text = next(t for t in texts if len(fe._SENTENCE_END.split(t)) >= 3)
    dropped, kind = fe.near_duplicate(text, rng, "drop_sentence")
    assert kind == "drop_sentence" and len(dropped.split()) < len(text.split())
    swapped, _ = fe.near_duplicate(text, rng, "swap_sentences")
    assert sorted(swapped.split()) == sorted(text.split()) and swapped != " ".join(text.split())
    word, _ = fe.near_duplicate(text, rng, "drop_word")
    assert len(word.split()) == len(text.split()) - 1
    assert fe.near_duplicate(text, rng, "recase")[0] == text.lower()
    assert fe.near_duplicate(text, rng, "rewrap")[0].split() == text.split()
    # One sentence: the sentence edits fall back to dropping a word.
    assert fe.near_duplicate("single sentence without an end", rng, "swap_sentences")[1] == "drop_word"


def test_calibrate_tau_reproduces_teacher_pairs():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(40, 16))
    teacher = np.concatenate([base, base[:10] + 0.05 * rng.normal(size=(10, 16))])
    teacher /= np.linalg.norm(teacher, axis=1, keepdims=True)
    # A student that is a rotation of the teacher finds the same pairs at the teacher's tau.
    q, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    student = teacher @ q
    tau, recall, precision = fe.calibrate_tau(student, teacher, teacher_tau=0.95)
    assert recall == 1.0 and precision == 1.0
    assert fe.pairs_above(student, tau) == fe.pairs_above(teacher, 0.95)


def test_harvest_reads_docstrings_without_importing():
    import json as json_module

    root = Path(json_module.__file__).parent
    found = fe.harvest_docstrings([root], exclude=())
    assert fe.docstring_prose(inspect.getdoc(json_module.dumps)) in found
    assert len(found) == len({" ".join(t.lower().split()) for t in found})
    without = fe.harvest_docstrings([root], exclude=("encoder",))
    assert fe.docstring_prose(textwrap.dedent(inspect.getdoc(json_module.JSONEncoder))) not in without
    assert fe.harvest_docstrings([root], exclude=(), exclude_texts=found) == []


def test_static_backend_embeds_through_the_pipeline_with_its_own_id_and_tau(artifact, texts):
    import duckdb

    from anchormix.embed import EmbeddingSettings, embed_texts, model_id, semantic_tau
    from anchormix.errors import ConfigError
    from anchormix.normalize import content_hash

    static = EmbeddingSettings(backend="static", static_path=str(artifact))
    assert model_id(static).startswith("anchormix-static-minilm-") and model_id(static) != model_id(
        EmbeddingSettings())
    assert semantic_tau(static, 0.95) == fe.FastEmbedder.load(artifact).tau
    assert semantic_tau(EmbeddingSettings(), 0.95) == 0.95
    con = duckdb.connect()
    hashes = [content_hash(t) for t in texts[:20]]
    first = embed_texts(con, hashes, texts[:20], static)
    again = embed_texts(con, hashes, texts[:20], static)
    assert first.misses == len(set(hashes)) == again.hits and np.array_equal(first.vectors, again.vectors)
    np.testing.assert_allclose(first.vectors, fe.FastEmbedder.load(artifact).encode(texts[:20]), atol=1e-6)
    with pytest.raises(ConfigError, match="embedding.static_path"):
        model_id(EmbeddingSettings(backend="static", static_path=str(artifact.parent / "absent")))


def test_borderline_pairs_are_settled_by_the_teacher_in_the_semantic_stage(artifact, texts, tmp_path):
    """Pairs within the margin of the static tau stand only where MiniLM agrees; MiniLM's vectors are cached
    under its own model id, and only for the records of such pairs."""
    import duckdb

    from anchormix.dedup.near import NearDedupSettings
    from anchormix.embed import EmbeddingSettings, embed_texts, model_id, semantic_tau
    from anchormix.normalize import content_hash
    from anchormix.stages.semantic import semantic_drop
    from anchormix.store import init_schema

    edits, _ = fe.near_duplicates(texts, seed=3)
    docs = texts + edits
    n, drop = len(docs), "2026-02-01"
    hashes = [content_hash(t) for t in docs]
    con = duckdb.connect(str(tmp_path / "store.duckdb"))
    init_schema(con)
    con.execute("INSERT INTO raw_records (id, drop, seq) SELECT 'r' || i, ?, i + 1 FROM range(?) t(i)", [drop, n])
    con.execute("INSERT INTO normalized (id, drop, norm_text, content_hash) SELECT 'r' || i, ?, t, h FROM "
                "(SELECT unnest(range(?)) AS i, unnest(?) AS t, unnest(?) AS h)", [drop, n, docs, hashes])
    con.execute("INSERT INTO dedup (id, drop, status) SELECT 'r' || i, ?, 'unique' FROM range(?) t(i)", [drop, n])
    margin = 0.05
    static = EmbeddingSettings(backend="static", static_path=str(artifact), verify_margin=margin)
    fast = embed_texts(con, hashes, docs, static).vectors
    teacher = EmbeddingSettings()
    tau = semantic_tau(static, 0.95)

    out = semantic_drop(con, drop, NearDedupSettings(), static)

    fast = fast / np.linalg.norm(fast, axis=1, keepdims=True)
    sims = fast @ fast.T
    band = [(i, j) for i in range(n) for j in range(i + 1, n) if tau - margin <= sims[i, j] < tau + margin]
    assert out["verify_band_pairs"] == len(band) > 0
    cached = {h for (h,) in con.execute("SELECT content_hash FROM embedding_cache WHERE model_id = ?",
                                        [model_id(teacher)]).fetchall()}
    assert len(cached) == out["verify_teacher_records"] == len({hashes[k] for pair in band for k in pair})
    minilm = embed_texts(con, hashes, docs, teacher).vectors
    agreed = [(i, j) for i, j in band if float(minilm[i] @ minilm[j]) >= 0.95 - 1e-6]
    assert out["verify_kept"] == len(agreed)
    marked = dict(con.execute("SELECT id, duplicate_of FROM dedup WHERE method = 'semantic'").fetchall())
    linked = {tuple(sorted((int(a[1:]), int(b[1:])))) for a, b in marked.items()}
    rejected = set(band) - set(agreed)
    assert not linked & rejected  # a pair the teacher rejected never links two records
