"""Fast embedders against MiniLM: CPU cost, semantic-duplicate pairs, neighbours.

    OMP_NUM_THREADS=1 .venv/bin/python bench/fast_embedder.py [--artifact var/models/fast-embedder]
        [--candidates minilm,minilm-int8,onnx-int8,m2v,m2v-pca256,m2v-ridge,fitted]

Evaluation text (real, already on the machine; ``bench/_corpus.py``): the
5,952 docstrings of the standard library and 14 installed packages, and the
2,000 OUTFOX essays (human and machine, about 390 words, read in place). None of
it is in the fast embedder's training corpus (``anchormix.fast_embed`` leaves
those packages out; the overlap is printed).

Semantic duplicates: half of the texts (seeded) get one light edit each
(``fast_embed.near_duplicate``: a sentence dropped, two sentences swapped, a word
dropped, re-wrapped or lower-cased). Texts are split by source text into a
*tune* and a *held-out* half; within each half (originals + their edits) the
reference pairs are those MiniLM puts at cosine >= 0.95 (the pipeline's default
``dedup.semantic_tau``), found by the pipeline's own search
(``anchormix.dedup.semantic.candidate_pairs``). A candidate's tau is calibrated on
the tune half (max F1) and its recall / precision are reported on the held-out
half; the fitted artifact's recorded tau (calibrated at build time on its own
corpus) is reported too.

Speed: docs per CPU-second, ``time.process_time()`` over the whole process (all
threads), model load and a 32-text warm-up excluded; MiniLM-based candidates on
a sample (``--transformer-sample``), static ones on all texts.

Information: kNN recall@10 (overlap of the 10 nearest neighbours under MiniLM
and the candidate, per text) and the Spearman correlation of 100,000 random
pairwise similarities, on the originals of each corpus.

Verdicts: ``bench/fast_embedder.py verdicts --embedder minilm|ARTIFACT [--nights N --seeds S]``
runs ``bench/collapse.py`` and ``bench/gate_calibration.py`` in-process with that
embedder in the pipeline (``bench/_swap_embedder.py``; the fast one with its own
tau); run it once per embedder and compare the verdicts.

Candidates: ``minilm`` (reference, ``anchormix.embed``), ``minilm-int8``
(``quantize = true``), ``onnx-int8`` (ONNX Runtime, dynamic int8; runs when
``onnxruntime`` and ``onnx`` import), ``m2v`` / ``m2v-pca256`` (model2vec's
distillation recipe on the bundled MiniLM, its encode semantics: no special
tokens, 512 tokens), ``m2v-ridge`` (the distilled mean-pooled vector mapped to
MiniLM's by ridge regression on the training corpus), ``fitted`` (the artifact:
token vectors fitted to MiniLM's vectors, ``anchormix.fast_embed``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
warnings.filterwarnings("ignore")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _corpus

from anchormix import fast_embed as fe

CACHE = _corpus.CACHE
ALL = ("minilm", "minilm-int8", "onnx-int8", "m2v", "m2v-pca256", "m2v-ridge", "fitted")


def essays_all() -> tuple[list[str], list[str]]:
    """All 2,000 OUTFOX essays (human and machine): real text of essay length."""
    import json

    if not _corpus.OUTFOX.is_file():
        return [], []
    rows = [json.loads(line) for line in _corpus.OUTFOX.open()]
    return [str(r["id"]) for r in rows], [r["text"] for r in rows]


def cpu_rate(encode, texts: list[str]) -> float:
    encode(texts[:32])
    started = time.process_time()
    encode(texts)
    return len(texts) / (time.process_time() - started)


# -- candidates ------------------------------------------------------------------------------------


class Static:
    """Mean of token vectors (+ bias), L2-normalized, over MiniLM's tokenizer."""

    def __init__(self, table, bias=None, special=True, max_tokens=fe.MAX_SEQ_LENGTH):
        from tokenizers import Tokenizer

        from anchormix.embed import default_model_path

        self.tokenizer = Tokenizer.from_file(str(default_model_path() / "tokenizer.json"))
        fe._configure_tokenizer(self.tokenizer, max_tokens)
        self.table = np.ascontiguousarray(table, dtype=np.float32)
        self.bias = np.zeros(self.table.shape[1], np.float32) if bias is None else bias
        self.special, self.max_tokens = special, max_tokens

    def ids(self, texts):
        return fe._token_ids(self.tokenizer, texts, self.max_tokens, fe.CHARS_PER_TOKEN * self.max_tokens, self.special)

    def encode(self, texts):
        out = [fe._pool(self.ids(texts[i:i + 4096]), self.table, self.bias) for i in range(0, len(texts), 4096)]
        return np.concatenate(out) if out else np.zeros((0, self.table.shape[1]), np.float32)


def model2vec_table(distilled: np.ndarray, pca_dims: int | None) -> np.ndarray:
    """model2vec's post-processing of distilled token vectors: optional PCA, then Zipf/SIF weights (1e-4).

    Re-implemented from model2vec 0.10 (distill/inference.py): its ``distill``
    extra pins transformers < 5.4, older than this project's.
    """
    from anchormix.embed import default_model_path

    vocab = (default_model_path() / "vocab.txt").read_text().splitlines()
    unused = np.array([v.startswith("[unused") for v in vocab[:len(distilled)]])
    x = distilled.astype(np.float64)
    if pca_dims:
        keep = x[~unused]
        mean = keep.mean(0)
        _, vecs = np.linalg.eigh(np.cov((keep - mean).T))
        comps = vecs[:, ::-1][:, :pca_dims]
        x = (x - mean) @ comps
    rank = np.cumsum(~unused) + 1  # model2vec ranks the kept vocabulary in id order
    inv = 1 / rank
    proba = inv / inv[~unused].sum()
    weights = 1e-4 / (1e-4 + proba)
    x = x * weights[:, None]
    x[unused] = 0
    return x.astype(np.float32)


def ridge_table(distilled, train_texts, train_teacher, alpha=1.0):
    """Fold a ridge map (distilled mean-pooled vector -> MiniLM vector) into the token table."""
    from scipy.sparse import csr_matrix

    base = Static(distilled)
    pooled = []
    for i in range(0, len(train_texts), 4096):
        ids = base.ids(train_texts[i:i + 4096])
        lengths = np.array([len(x) for x in ids])
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        m = csr_matrix((np.repeat(1.0 / lengths, lengths), np.concatenate(ids), indptr), shape=(len(ids), len(distilled)))
        pooled.append(np.asarray(m @ distilled))
    x = np.concatenate(pooled)
    mx, my = x.mean(0), train_teacher.mean(0)
    xc, yc = x - mx, train_teacher - my
    w = np.linalg.solve(xc.T @ xc + alpha * len(x) * 1e-3 * np.eye(x.shape[1]), xc.T @ yc)
    return (distilled @ w).astype(np.float32), (my - mx @ w).astype(np.float32)


class Transformer:
    def __init__(self, quantize: bool):
        from anchormix.embed import EmbeddingSettings, load_model

        self.settings = EmbeddingSettings(quantize=quantize)
        self.model = load_model(self.settings)

    def encode(self, texts):
        from anchormix.embed import encode

        return encode(self.model, list(texts), self.settings)


class Onnx:
    """MiniLM exported to ONNX and dynamically quantized to int8 (QInt8 weights), mean pooling."""

    def __init__(self, directory: Path):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from anchormix.embed import default_model_path

        directory.mkdir(parents=True, exist_ok=True)
        fp32, int8 = directory / "minilm.onnx", directory / "minilm-int8.onnx"
        if not int8.is_file():
            import torch
            from onnxruntime.quantization import QuantType, quantize_dynamic
            from transformers import AutoModel

            class Encoder(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.bert = AutoModel.from_pretrained(str(default_model_path())).eval()

                def forward(self, input_ids, attention_mask, token_type_ids):
                    return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                                     token_type_ids=token_type_ids).last_hidden_state

            ids = torch.ones(2, 16, dtype=torch.long)
            torch.onnx.export(Encoder().eval(), (ids, ids, torch.zeros_like(ids)), str(fp32), dynamo=False,
                              input_names=["input_ids", "attention_mask", "token_type_ids"],
                              output_names=["last_hidden_state"], opset_version=17,
                              dynamic_axes={n: {0: "b", 1: "s"} for n in ("input_ids", "attention_mask",
                                                                          "token_type_ids", "last_hidden_state")})
            quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
        self.session = ort.InferenceSession(str(int8), opts, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(default_model_path() / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=fe.MAX_SEQ_LENGTH)

    def encode(self, texts):
        # Batches of equal token length, so no padding enters the graph (a padded batch exported this
        # way gave wrong vectors for short texts).
        enc = self.tokenizer.encode_batch(list(texts))
        out = np.zeros((len(texts), 384), np.float32)
        by_length: dict[int, list[int]] = {}
        for i, e in enumerate(enc):
            by_length.setdefault(len(e.ids), []).append(i)
        for rows_all in by_length.values():
            for start in range(0, len(rows_all), 64):
                rows = rows_all[start:start + 64]
                ids = np.array([enc[i].ids for i in rows], dtype=np.int64)
                hidden = self.session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                                 "token_type_ids": np.zeros_like(ids)})[0]
                pooled = hidden.mean(1)
                out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out


# -- metrics ---------------------------------------------------------------------------------------


def knn_recall(a: np.ndarray, b: np.ndarray, k: int = 10) -> float:
    hits = 0
    for start in range(0, len(a), 2048):
        sa, sb = a[start:start + 2048] @ a.T, b[start:start + 2048] @ b.T
        for s in (sa, sb):
            s[np.arange(len(s)), np.arange(start, start + len(s))] = -np.inf
        ta = np.argpartition(-sa, k, axis=1)[:, :k]
        tb = np.argpartition(-sb, k, axis=1)[:, :k]
        hits += sum(len(set(x) & set(y)) for x, y in zip(ta.tolist(), tb.tolist()))
    return hits / (k * len(a))


def spearman(a: np.ndarray, b: np.ndarray, n: int = 100_000, seed: int = 0) -> float:
    from scipy.stats import spearmanr

    rng = np.random.default_rng(seed)
    i, j = rng.integers(len(a), size=n), rng.integers(len(a), size=n)
    keep = i != j
    i, j = i[keep], j[keep]
    return float(spearmanr(np.einsum("ij,ij->i", a[i], a[j]), np.einsum("ij,ij->i", b[i], b[j])).statistic)


def pipeline_pairs(vectors: np.ndarray, tau: float) -> set:
    from anchormix.dedup.semantic import candidate_pairs

    p = candidate_pairs(vectors, tau)
    return set(zip(p["i"].tolist(), p["j"].tolist()))


# -- main ------------------------------------------------------------------------------------------


def verdicts(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="fast_embedder.py verdicts")
    parser.add_argument("--embedder", default="minilm", help="minilm, or a fast-embedder artifact directory")
    parser.add_argument("--nights", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--generations", type=int, default=5)
    args = parser.parse_args(argv)
    import collapse
    import gate_calibration

    if args.embedder != "minilm":
        from _swap_embedder import use_fast_embedder

        fast = use_fast_embedder(args.embedder)
        print(f"embedder: {fast.model_id}, semantic tau {fast.tau:.4f}")
    else:
        print("embedder: MiniLM (anchormix.embed default), semantic tau 0.95")
    print(f"\n# bench/collapse.py --generations {args.generations}", flush=True)
    sys.argv = ["collapse.py", "--generations", str(args.generations)]
    collapse.main()
    print(f"\n# bench/gate_calibration.py --nights {args.nights} --seeds {args.seeds}", flush=True)
    sys.argv = ["gate_calibration.py", "--nights", str(args.nights), "--seeds", str(args.seeds)]
    gate_calibration.main()


def main() -> None:
    if sys.argv[1:2] == ["verdicts"]:
        verdicts(sys.argv[2:])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--artifact", default=str(_corpus.REPO / "var" / "models" / fe.DEFAULT_DIRNAME))
    parser.add_argument("--candidates", default=",".join(ALL))
    parser.add_argument("--transformer-sample", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dump", help="directory: save each candidate's vectors with MiniLM's, for analysis")
    args = parser.parse_args()
    wanted = args.candidates.split(",")
    process_started = time.process_time()

    import transformers

    transformers.logging.set_verbosity_error()
    _, doc_texts = _corpus.docstrings()
    _, essay_texts = essays_all()
    corpora = {"docstrings": doc_texts, "essays": essay_texts}
    rng = np.random.default_rng(args.seed)
    # One light edit of half the texts; split by source text into tune / held-out halves.
    texts, source, kinds = [], [], []
    for name, items in corpora.items():
        base = len(texts)
        texts += items
        source += list(range(base, base + len(items)))
        kinds += ["original"] * len(items)
    n_orig = len(texts)
    chosen = np.sort(rng.choice(n_orig, n_orig // 2, replace=False))
    edits, edit_kinds = fe.near_duplicates([texts[i] for i in chosen], seed=args.seed + 1)
    texts += edits
    source = np.array(source + chosen.tolist())
    kinds += edit_kinds
    split = (rng.permutation(n_orig) % 2)[source]  # 0 = tune, 1 = held-out, per source text
    corpus_of_all = np.array([0] * len(doc_texts) + [1] * len(essay_texts))[source]
    minilm = np.concatenate([_corpus.embed(doc_texts, "docstrings"), _corpus.embed(essay_texts, "essays-all"),
                             _corpus.embed(edits, f"fe-edits-s{args.seed}")])

    # The fast embedder's training corpus: evaluation texts equal to one of its texts (and their edits)
    # are left out.
    train_texts = fe.harvest_docstrings()
    seen = {fe._key(t) for t in train_texts}
    leaked = np.array([fe._key(t) in seen for t in texts[:n_orig]])
    keep = ~leaked[source]
    all_texts = texts
    new_index = np.cumsum(~leaked) - 1
    texts = [t for t, k in zip(texts, keep) if k]
    kinds = [t for t, k in zip(kinds, keep) if k]
    source, split, corpus_of_all, minilm = new_index[source[keep]], split[keep], corpus_of_all[keep], minilm[keep]
    n_orig = int((~leaked).sum())
    is_edit = np.arange(len(texts)) >= n_orig
    print(f"training corpus: {len(train_texts)} docstrings of installed packages; {int(leaked.sum())} evaluation "
          "texts equal one of them and are left out with their edits")
    n_edits = len(texts) - n_orig
    print(f"eval: {int(((corpus_of_all == 0) & ~is_edit).sum())} docstrings + "
          f"{int(((corpus_of_all == 1) & ~is_edit).sum())} essays, {n_edits} edited copies "
          f"({', '.join(f'{k} {kinds.count(k)}' for k in fe.EDIT_KINDS)}); "
          f"tune {int((split == 0).sum())} / held-out {int((split == 1).sum())} texts", flush=True)
    doc_texts = [t for t, c, e in zip(texts, corpus_of_all, is_edit) if c == 0 and not e]
    essay_texts = [t for t, c, e in zip(texts, corpus_of_all, is_edit) if c == 1 and not e]
    ref = {s: pipeline_pairs(minilm[split == s], fe.TEACHER_TAU) for s in (0, 1)}
    print(f"MiniLM pairs at tau {fe.TEACHER_TAU}: tune {len(ref[0])}, held-out {len(ref[1])}", flush=True)

    artifact = Path(args.artifact)
    needs_train = {"m2v-ridge"} & set(wanted) or ("fitted" in wanted and not (artifact / "config.json").is_file())
    if needs_train or "m2v" in ",".join(wanted):
        settings, model = fe._teacher()
        distilled_path = CACHE / "fe-distilled.npy"
        if distilled_path.is_file():
            distilled = np.load(distilled_path)
        else:
            distilled = fe.distill_token_vectors(model, model.tokenizer.vocab_size)
            np.save(distilled_path, distilled)
    if needs_train and not (artifact / "config.json").is_file() and "fitted" in wanted:
        fe.build(artifact, cache_dir=CACHE, log=lambda m: print(m, flush=True))

    rows = []
    sample_docs = doc_texts[:: max(1, len(doc_texts) // args.transformer_sample)][: args.transformer_sample]
    sample_essays = essay_texts[:: max(1, len(essay_texts) // (args.transformer_sample // 2))][: args.transformer_sample // 2]
    rates = {}
    for name in wanted:
        if name == "minilm":
            enc = Transformer(False).encode
        elif name == "minilm-int8":
            enc = Transformer(True).encode
        elif name == "onnx-int8":
            try:
                enc = Onnx(CACHE / "onnx").encode
            except Exception as exc:  # noqa: BLE001 - optional candidate
                print(f"onnx-int8: skipped ({type(exc).__name__}: {exc}); it needs onnxruntime and onnx")
                continue
        elif name == "m2v":
            enc = Static(model2vec_table(distilled, None), special=False, max_tokens=512).encode
        elif name == "m2v-pca256":
            enc = Static(model2vec_table(distilled, 256), special=False, max_tokens=512).encode
        elif name == "m2v-ridge":
            rng_t = np.random.default_rng(0)
            order = rng_t.permutation(len(train_texts))
            calib_n = 1500
            fit_texts = [train_texts[i] for i in order[calib_n:]][:30000]
            teacher = fe._teacher_encode(model, settings, fit_texts, None, CACHE)
            table, bias = ridge_table(distilled, fit_texts, teacher)
            enc = Static(table, bias).encode
        elif name == "fitted":
            fast = fe.FastEmbedder.load(artifact)
            enc = fast.encode
        else:
            raise SystemExit(f"unknown candidate {name}")
        transformer = name in ("minilm", "minilm-int8", "onnx-int8")
        r_doc = cpu_rate(enc, sample_docs if transformer else doc_texts)
        r_ess = cpu_rate(enc, sample_essays if transformer else essay_texts)
        rates[name] = (r_doc, r_ess)
        if name == "minilm":
            vec = minilm
        else:
            if transformer:  # slow: cached, over all texts before the leak filter
                import hashlib

                digest = hashlib.sha256("\x00".join(all_texts).encode()).hexdigest()[:12]
                cache = CACHE / f"fe-vectors-{name}-{digest}.npy"
                if not cache.is_file():
                    np.save(cache, enc(all_texts))
                vec = np.load(cache)[keep]
            else:
                vec = enc(texts)
        info = []
        for c in (0, 1):
            m = ~is_edit & (corpus_of_all == c)
            info.append((knn_recall(minilm[m], vec[m]), spearman(minilm[m], vec[m])))
        if name == "minilm":
            tau = fe.TEACHER_TAU
        else:
            tune = split == 0
            tau, _, _ = fe.calibrate_tau(vec[tune], minilm[tune])
        held = split == 1
        found = pipeline_pairs(vec[held], tau)
        rec, prec = fe.pair_agreement(found, ref[1])
        extra = ""
        if name == "fitted":
            found2 = pipeline_pairs(vec[held], fast.tau)
            r2, p2 = fe.pair_agreement(found2, ref[1])
            extra = f"artifact tau {fast.tau:.4f}: recall {r2:.3f}, precision {p2:.3f}"
            extra += "\n" + " " * 13 + band_check(vec[held], minilm[held], fast.tau)
            per_kind(vec, minilm, held, source, kinds, n_orig, tau)
        rows.append((name, r_doc, r_ess, tau, rec, prec, info, extra))
        if args.dump:
            import json

            Path(args.dump).mkdir(parents=True, exist_ok=True)
            np.savez(Path(args.dump) / f"{name}.npz", vec=vec, minilm=minilm, split=split, source=source, tau=tau)
            (Path(args.dump) / "texts.json").write_text(json.dumps({"texts": texts, "kinds": kinds}))
        print(f"  {name}: done ({time.process_time() - process_started:.0f} CPU-s so far)", flush=True)

    base = rates.get("minilm")
    print("\ndocs/CPU-s = time.process_time() of the whole process (all threads); x = over MiniLM's")
    print(f"{'candidate':<13}{'docstr/CPU-s':>13}{'x':>7}{'essays/CPU-s':>13}{'x':>7}{'tau':>8}"
          f"{'dup recall':>11}{'precision':>10}{'r@10 doc/ess':>15}{'spearman doc/ess':>18}")
    for name, r_doc, r_ess, tau, rec, prec, info, extra in rows:
        xd = f"{r_doc / base[0]:.1f}" if base else "-"
        xe = f"{r_ess / base[1]:.1f}" if base else "-"
        print(f"{name:<13}{r_doc:>13,.0f}{xd:>7}{r_ess:>13,.0f}{xe:>7}{tau:>8.4f}{rec:>11.3f}{prec:>10.3f}"
              f"{info[0][0]:>9.3f}/{info[1][0]:.3f}{info[0][1]:>12.3f}/{info[1][1]:.3f}")
        if extra:
            print(f"{'':<13}{extra}")
    print(f"(held-out pairs: {len(ref[1])} MiniLM pairs at {fe.TEACHER_TAU}; candidate tau calibrated on the tune half)")


MEASURED_MARGIN = 0.01  # chosen on the tune half; [embedding] verify_margin is off by default (bench/README.md)


def band_check(vec: np.ndarray, minilm: np.ndarray, tau: float) -> str:
    """The pipeline's borderline check (:mod:`anchormix.dedup.semantic_verify`) at the default margin: pairs
    within it of ``tau`` are settled by MiniLM. Recall and precision against MiniLM's pairs, and the share of
    records MiniLM had to embed."""
    from anchormix.dedup.semantic import candidate_pairs
    from anchormix.dedup.semantic_verify import search_tau, settle_band
    from anchormix.vectors import rows_normalized

    margin = MEASURED_MARGIN
    teacher = rows_normalized(minilm, np.float32)
    pairs = candidate_pairs(vec, search_tau(tau, margin))
    kept, check = settle_band(pairs, tau, margin, fe.TEACHER_TAU, lambda positions: teacher[positions])
    rec, prec = fe.pair_agreement(set(zip(kept["i"].tolist(), kept["j"].tolist())),
                                  pipeline_pairs(minilm, fe.TEACHER_TAU))
    return (f"artifact tau, MiniLM settling pairs within {margin} of it (the pipeline): recall {rec:.3f}, precision {prec:.3f}, "
            f"MiniLM embedded {check.teacher_records / len(vec):.1%} of the records")


def per_kind(vec, minilm, held, source, kinds, n_orig, tau):
    """Per edit kind, on the held-out half: edited pairs MiniLM puts >= 0.95, and the share the candidate finds."""
    print(f"  per edit kind (held-out), tau {tau:.4f}: kind: MiniLM pairs / all edits, found, false")
    for kind in fe.EDIT_KINDS:
        rows = [i for i in range(n_orig, len(kinds)) if kinds[i] == kind and held[i]]
        if not rows:
            continue
        m = np.einsum("ij,ij->i", minilm[rows], minilm[source[rows]]) >= fe.TEACHER_TAU
        f = np.einsum("ij,ij->i", vec[rows], vec[source[rows]]) >= tau
        print(f"    {kind:<15}{int(m.sum()):>5} / {len(rows):<5} found {int((m & f).sum()):>5}  false {int((~m & f).sum()):>4}")


if __name__ == "__main__":
    main()
