"""A fast static embedder distilled from the bundled MiniLM, for the semantic stages.

MiniLM (``anchormix.embed``) runs six transformer layers over every token; this
model keeps only what a bag of tokens can carry: one learned vector per token of
MiniLM's own WordPiece vocabulary, averaged over the text with one learned weight
per position, plus a bias, L2-normalized. Its cost is the tokenizer plus one
sparse matrix product, about two orders of magnitude less CPU than MiniLM
(``bench/fast_embedder.py`` prints the figures).

It reads a text the way MiniLM does: the same tokenizer (lower-cased WordPiece),
``[CLS]`` and ``[SEP]`` included, truncated at 128 tokens (MiniLM's
``max_seq_length``), so an edit past MiniLM's window changes neither model.

The vectors live in their own space: cosine geometry is only meaningful within
one model, so :attr:`FastEmbedder.model_id` (``anchormix-static-minilm-<hash of
the artifact>``) differs from every MiniLM id and a cache keyed by it never mixes
the two. A similarity threshold tuned on MiniLM does not carry over either: the
artifact records its own ``tau``, the threshold that reproduces MiniLM's
semantic-duplicate pairs at MiniLM's tau (0.95).

Building (:func:`build`, ``python -m anchormix.fast_embed build --out DIR``), all
offline from the bundled MiniLM:

1. *distill* (model2vec's recipe): each vocabulary token alone through MiniLM
   (``[CLS] token [SEP]``, mean-pooled) gives its initial vector;
2. *corpus*: docstrings of the installed Python packages, read with ``ast``
   (nothing imported), embedded by MiniLM as the teacher. The packages that
   ``bench/_corpus.py`` evaluates on (and the standard library, which is not in
   site-packages) are left out so the bench measures text the model never saw;
3. *fit* (tokenlearn-style): token vectors ``E = E0 W + D`` (``E0`` from step 1,
   ``W`` a shared linear map, ``D`` a per-token correction kept small by weight
   decay, so a token absent from the corpus still gets ``E0 W``), position
   weights and a bias are trained to maximise the cosine between the pooled
   token vectors of a text and MiniLM's vector of it; near-duplicates of some
   training texts join in, with a loss on their similarity to the original, the
   range where duplicates are decided;
4. *calibrate*: near-duplicates are made from a held part of the corpus (a
   sentence dropped, two sentences swapped, a word dropped, re-wrapped or
   re-cased); ``tau`` is the student threshold that best reproduces the pairs
   MiniLM puts at cosine >= 0.95 among those texts.

The artifact is a directory: ``config.json``, ``tokenizer.json`` (MiniLM's),
``embeddings.npy`` (``[vocab, dim]`` float32), ``bias.npy`` and
``positions.npy`` (one weight per token position). The build reads what is
installed, so two machines with other package versions build different
artifacts, with different model ids: vectors never mix.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

FORMAT = 1
MODEL_ID_PREFIX = "anchormix-static-minilm-"
TEACHER_TAU = 0.95  # the pipeline's default semantic tau (dedup.semantic_tau), on MiniLM vectors
MAX_SEQ_LENGTH = 128  # MiniLM's window in anchormix.embed (EmbeddingSettings.max_seq_length)
DEFAULT_DIRNAME = "fast-embedder"  # suggested place: <paths.models>/fast-embedder
# Packages bench/_corpus.py evaluates on (import names): kept out of the training corpus.
EVAL_PACKAGES = ("numpy", "pandas", "sklearn", "pyarrow", "transformers", "torch", "sympy", "networkx",
                 "pydantic", "jinja2", "requests", "sqlalchemy", "great_expectations", "dagster")
# Texts are cut (at a space) to this many characters per token of the window before tokenizing:
# English WordPiece averages 4 to 5; a cut text that yields fewer tokens than the window is redone
# whole, so the cut never changes the ids, only halves the tokenizer's time on long texts.
CHARS_PER_TOKEN = 8
_FILES = ("config.json", "tokenizer.json", "embeddings.npy", "bias.npy", "positions.npy")
# Docstring paragraphs from these on are reference material (parameters, examples), not prose.
_REFERENCE_STARTS = (">>>", "..", "Parameters", "Returns", "Example", "Args", "---", ":param", "Raises",
                     "Yields", "Attributes", "Note", "See Also")


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    for name in _FILES:
        digest.update(name.encode() + b"\0" + (path / name).read_bytes() + b"\0")
    return digest.hexdigest()[:12]


class FastEmbedder:
    """A built static model: ``FastEmbedder.load(path).encode(texts)``.

    ``model_id``: ``anchormix-static-minilm-<12 hex of the artifact's files>``.
    ``tau``: the cosine threshold for semantic duplicates with these vectors
    (the counterpart of MiniLM's 0.95). ``dim``: vector width.
    """

    def __init__(self, tokenizer, embeddings: np.ndarray, bias: np.ndarray, positions: np.ndarray, config: dict,
                 model_id: str):
        self.tokenizer = tokenizer
        self.embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        self.bias = np.asarray(bias, dtype=np.float32)
        self.positions = np.asarray(positions, dtype=np.float32)
        self.config = config
        self.model_id = model_id
        self.tau = float(config["tau"])
        self.dim = int(self.embeddings.shape[1])
        self.max_tokens = int(config.get("max_seq_length", MAX_SEQ_LENGTH))
        self._max_chars = CHARS_PER_TOKEN * self.max_tokens

    @classmethod
    def load(cls, path: str | os.PathLike) -> FastEmbedder:
        """Load an artifact directory written by :func:`build`; FileNotFoundError names the build command."""
        from tokenizers import Tokenizer

        path = Path(path)
        missing = [n for n in _FILES if not (path / n).is_file()]
        if missing:
            raise FileNotFoundError(
                f"no fast-embedder artifact at {path} (missing {', '.join(missing)}); build it with "
                f"`python -m anchormix.fast_embed build --out {path}`")
        config = json.loads((path / "config.json").read_text())
        if config.get("format") != FORMAT:
            raise ValueError(f"{path}: artifact format {config.get('format')!r}, this code reads {FORMAT}")
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        _configure_tokenizer(tokenizer, int(config.get("max_seq_length", MAX_SEQ_LENGTH)))
        return cls(tokenizer, np.load(path / "embeddings.npy"), np.load(path / "bias.npy"),
                   np.load(path / "positions.npy"), config, MODEL_ID_PREFIX + _fingerprint(path))

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """MiniLM's token ids of each text: ``[CLS] ... [SEP]``, at most ``max_seq_length``."""
        return _token_ids(self.tokenizer, texts, self.max_tokens, self._max_chars)

    def encode(self, texts: Sequence[str], batch_size: int = 4096) -> np.ndarray:
        """float32 ``[n, dim]``, L2-normalized rows, input order; deterministic."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            ids = self.token_ids(texts[start:start + batch_size])
            out[start:start + len(ids)] = _pool(ids, self.embeddings, self.bias, self.positions)
        return out


def _configure_tokenizer(tokenizer, max_tokens: int) -> None:
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)


def _cut(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    space = text.rfind(" ", 0, max_chars)
    return text[:space] if space > 0 else text[:max_chars]


def _token_ids(tokenizer, texts: Sequence[str], max_tokens: int, max_chars: int,
               add_special_tokens: bool = True) -> list[list[int]]:
    texts = [t if isinstance(t, str) else "" for t in texts]
    cut = [_cut(t, max_chars) for t in texts]
    ids = [e.ids for e in tokenizer.encode_batch(cut, add_special_tokens=add_special_tokens)]
    # A cut text with fewer than max_tokens tokens may have lost tokens: tokenize it whole (rare).
    redo = [i for i, (t, c, x) in enumerate(zip(texts, cut, ids)) if len(c) < len(t) and len(x) < max_tokens]
    if redo:
        for i, e in zip(redo, tokenizer.encode_batch([texts[i] for i in redo], add_special_tokens=add_special_tokens)):
            ids[i] = e.ids
    return ids


def _pool(ids: list[list[int]], embeddings: np.ndarray, bias: np.ndarray,
          positions: np.ndarray | None = None) -> np.ndarray:
    """Weighted mean of the token vectors plus bias, L2-normalized (a sparse ``[n, vocab] @ [vocab, dim]``).

    ``positions[p]`` weighs the token at position p (``[CLS]`` is 0); None = a plain mean.
    """
    from scipy.sparse import csr_matrix

    n = len(ids)
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    indices = np.fromiter((t for x in ids for t in x), dtype=np.int32, count=int(indptr[-1]))
    if positions is None:
        weights = np.repeat(1.0 / np.maximum(lengths, 1), lengths).astype(np.float32)
    else:
        at = np.arange(int(indptr[-1])) - np.repeat(indptr[:-1], lengths)
        weights = positions[np.minimum(at, len(positions) - 1)].astype(np.float32)
        sums = np.bincount(np.repeat(np.arange(n), lengths), weights, minlength=n)
        weights /= np.repeat(sums, lengths).astype(np.float32)
    pooled = csr_matrix((weights, indices, indptr), shape=(n, embeddings.shape[0])) @ embeddings
    pooled = np.asarray(pooled, dtype=np.float32) + bias
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return pooled / np.maximum(norms, 1e-12)


# --------------------------------------------------------------------------------------------------
# Training corpus: docstrings of installed packages, read with ast.


def docstring_prose(doc: str) -> str:
    """The prose paragraphs of a docstring (up to its parameter tables, examples or notes)."""
    keep = []
    for para in doc.split("\n\n"):
        if para.lstrip().startswith(_REFERENCE_STARTS):
            break
        keep.append(para)
    return "\n\n".join(keep).strip()


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def harvest_docstrings(roots: Iterable[str | os.PathLike] | None = None, exclude: Iterable[str] = EVAL_PACKAGES,
                       min_words: int = 8, exclude_texts: Iterable[str] = ()) -> list[str]:
    """Prose of every module, class and function docstring under ``roots`` (default: site-packages).

    Files are parsed with ``ast``, never imported. Top-level packages named in
    ``exclude`` are skipped, at any depth (vendored copies too), as are tests. Texts are kept once, compared
    case- and whitespace-insensitively, and texts equal to one of
    ``exclude_texts`` are dropped. Sorted order, so the result depends only on
    what is installed.
    """
    import site

    if roots is None:
        roots = [p for p in site.getsitepackages() if Path(p).is_dir()]
    excluded = set(exclude)
    banned = {_key(t) for t in exclude_texts}
    seen: set[str] = set()
    out: list[str] = []
    for root in sorted({str(Path(r).resolve()) for r in roots}):
        base = Path(root)
        for folder, dirs, files in os.walk(base):
            parts = Path(folder).relative_to(base).parts
            # An excluded name at any depth, so vendored copies (pip/_vendor/requests) stay out too.
            if parts and (parts[-1] in excluded or parts[0].endswith((".dist-info", ".data", ".egg-info"))):
                dirs[:] = []
                continue
            dirs[:] = sorted(d for d in dirs if d not in ("tests", "test", "__pycache__"))
            for name in sorted(files):
                if not name.endswith(".py") or (not parts and name[:-3] in excluded):
                    continue
                try:
                    tree = ast.parse((Path(folder) / name).read_text("utf-8"))
                except (SyntaxError, UnicodeDecodeError, ValueError, OSError, RecursionError):
                    continue
                for node in ast.walk(tree):
                    if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                        doc = ast.get_docstring(node)
                        text = docstring_prose(doc) if doc else ""
                        if len(text.split()) < min_words:
                            continue
                        key = _key(text)
                        if key not in seen and key not in banned:
                            seen.add(key)
                            out.append(text)
    return out


# --------------------------------------------------------------------------------------------------
# Near-duplicates: light edits of real text.

EDIT_KINDS = ("drop_sentence", "swap_sentences", "drop_word", "rewrap", "recase")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def near_duplicate(text: str, rng: np.random.Generator, kind: str | None = None) -> tuple[str, str]:
    """``(edited text, kind)``: one light edit of ``text``.

    Kinds: ``drop_sentence`` and ``swap_sentences`` (texts of two or more
    sentences), ``drop_word`` (one word), ``rewrap`` (line breaks moved),
    ``recase`` (lower-cased). A kind that does not apply falls back to
    ``drop_word``.
    """
    sentences = [s for s in _SENTENCE_END.split(text.strip()) if s]
    if kind is None:
        kind = EDIT_KINDS[int(rng.integers(len(EDIT_KINDS)))]
    if kind in ("drop_sentence", "swap_sentences") and len(sentences) < 2:
        kind = "drop_word"
    if kind == "drop_sentence":
        i = int(rng.integers(len(sentences)))
        return " ".join(sentences[:i] + sentences[i + 1:]), kind
    if kind == "swap_sentences":
        i = int(rng.integers(len(sentences) - 1))
        sentences[i], sentences[i + 1] = sentences[i + 1], sentences[i]
        return " ".join(sentences), kind
    words = text.split()
    if kind == "rewrap":
        width = int(rng.integers(6, 14))
        return "\n".join(" ".join(words[i:i + width]) for i in range(0, len(words), width)), kind
    if kind == "recase":
        return text.lower(), kind
    if len(words) < 2:
        return text + " ", "drop_word"
    i = int(rng.integers(len(words)))
    return " ".join(words[:i] + words[i + 1:]), "drop_word"


def near_duplicates(texts: Sequence[str], seed: int = 0) -> tuple[list[str], list[str]]:
    """One :func:`near_duplicate` of each text (edit kinds drawn uniformly): ``(texts, kinds)``."""
    rng = np.random.default_rng(seed)
    out = [near_duplicate(t, rng) for t in texts]
    return [t for t, _ in out], [k for _, k in out]


# --------------------------------------------------------------------------------------------------
# Pairs and threshold calibration.


def pairs_above(vectors: np.ndarray, tau: float) -> set[tuple[int, int]]:
    """Exact ``{(i, j), i < j}`` with cosine >= tau (rows must be unit vectors)."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    found: set[tuple[int, int]] = set()
    for start in range(0, len(x), 2048):
        s = x[start:start + 2048] @ x.T
        a, b = np.nonzero(s >= tau)
        a = a + start
        keep = a < b
        found.update(zip(a[keep].tolist(), b[keep].tolist()))
    return found


def pair_agreement(found: set, reference: set) -> tuple[float, float]:
    """``(recall, precision)`` of ``found`` pairs against ``reference`` pairs (1.0 when empty)."""
    hit = len(found & reference)
    return (hit / len(reference) if reference else 1.0, hit / len(found) if found else 1.0)


def calibrate_tau(student: np.ndarray, teacher: np.ndarray, teacher_tau: float = TEACHER_TAU) -> tuple[float, float, float]:
    """The student threshold maximising F1 against the teacher's pairs at ``teacher_tau``.

    Lowering the threshold below the lowest student similarity of a teacher
    pair only adds false pairs, so only thresholds at the teacher pairs' student
    similarities are tried, and only similarities above the lowest of them are
    counted (as numbers, never as pairs). Returns ``(tau, recall, precision)``
    on these vectors; tau sits halfway below the chosen similarity.
    """
    reference = pairs_above(teacher, teacher_tau)
    if not reference:
        raise ValueError("no teacher pairs to calibrate on")
    x = np.ascontiguousarray(student, dtype=np.float32)
    idx = np.array(sorted(reference), dtype=np.int64)
    ref_sims = np.sort(np.einsum("ij,ij->i", x[idx[:, 0]], x[idx[:, 1]]))
    floor = float(ref_sims[0]) - 1e-6
    above = []
    for start in range(0, len(x), 1024):
        s = x[start:start + 1024] @ x.T
        rows = np.arange(start, start + len(s))[:, None]
        above.append(s[(s >= floor) & (np.arange(len(x))[None, :] > rows)])
    sims = np.sort(np.concatenate(above))
    n_ref = len(ref_sims)
    tp = n_ref - np.searchsorted(ref_sims, ref_sims, side="left")  # teacher pairs at or above each candidate
    found = len(sims) - np.searchsorted(sims, ref_sims, side="left")  # all pairs at or above it
    f1 = 2 * tp / (found + n_ref)
    best = int(np.argmax(f1))
    below = sims[sims < ref_sims[best]]
    lower = float(below[-1]) if len(below) else float(ref_sims[best]) - 1e-3
    tau = (float(ref_sims[best]) + max(lower, float(ref_sims[best]) - 1e-3)) / 2
    return tau, float(tp[best] / n_ref), float(tp[best] / found[best])


# --------------------------------------------------------------------------------------------------
# Building.


def _teacher():
    from anchormix.embed import EmbeddingSettings, load_model

    settings = EmbeddingSettings(max_seq_length=MAX_SEQ_LENGTH)
    return settings, load_model(settings)


def _teacher_encode(model, settings, texts: Sequence[str], log=None, cache_dir: Path | None = None) -> np.ndarray:
    """MiniLM vectors of ``texts``; with ``cache_dir``, kept per text in ``teacher-<model>.npz`` there."""
    from anchormix.embed import encode, model_id

    known: dict[str, np.ndarray] = {}
    keys = [hashlib.sha1(t.encode("utf-8", "surrogatepass")).hexdigest() for t in texts]
    cached = None
    if cache_dir is not None:
        cached = Path(cache_dir) / f"teacher-{hashlib.sha256(model_id(settings).encode()).hexdigest()[:16]}.npz"
        if cached.is_file():
            with np.load(cached) as data:
                known = dict(zip(data["keys"].tolist(), data["vectors"]))
    todo = list(dict.fromkeys(k for k in keys if k not in known))
    text_of = dict(zip(keys, texts))
    for start in range(0, len(todo), 2000):
        batch = todo[start:start + 2000]
        known.update(zip(batch, encode(model, [text_of[k] for k in batch], settings)))
        if log:
            log(f"  teacher: {start + len(batch)}/{len(todo)} texts ({len(texts) - len(todo)} cached)")
    if cached is not None and todo:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(list(known)), vectors=np.stack(list(known.values())))
        os.replace(tmp, cached)
    if not texts:
        return np.zeros((0, 384), np.float32)
    return np.stack([known[k] for k in keys]).astype(np.float32)


def distill_token_vectors(model, vocab_size: int, batch_size: int = 512,
                          only: Iterable[int] | None = None) -> np.ndarray:
    """Each token id alone through MiniLM (``[CLS] id [SEP]``), mean-pooled: ``[vocab, dim]`` float32.

    ``only``: distill just these ids (the other rows stay zero), for small test artifacts.
    """
    import torch

    transformer = model[0].auto_model
    tok = model.tokenizer
    cls_id, sep_id = tok.cls_token_id, tok.sep_token_id
    wanted = np.arange(vocab_size) if only is None else np.unique(np.fromiter(only, dtype=np.int64))
    out = np.zeros((vocab_size, transformer.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(wanted), batch_size):
            ids = torch.from_numpy(wanted[start:start + batch_size])
            batch = torch.stack([torch.full_like(ids, cls_id), ids, torch.full_like(ids, sep_id)], dim=1)
            hidden = transformer(input_ids=batch, attention_mask=torch.ones_like(batch)).last_hidden_state
            out[wanted[start:start + batch_size]] = hidden.mean(dim=1).float().numpy()
    return out


def fit_token_vectors(ids: list[list[int]], teacher: np.ndarray, init: np.ndarray, epochs: int = 8,
                      batch_size: int = 256, lr: float = 2e-3, decay: float = 1e-4, seed: int = 0,
                      valid: tuple[list[list[int]], np.ndarray] | None = None, pairs: np.ndarray | None = None,
                      pair_weight: float = 0.05, log=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train ``E = init @ W + D`` and a bias so that normalize(mean E[ids] + b) ~ teacher (cosine loss).

    ``W`` starts at the identity and ``D`` at zero; ``decay`` is an L2 penalty
    on ``D`` (per token used in a batch). ``pairs`` (``[m, 2]`` row indices,
    e.g. a text and its near-duplicate) add a loss on their similarity: the
    squared difference of ``log(1 - cos + 0.01)`` between student and teacher,
    which weighs the high-similarity range where duplicates are decided.
    Position weights (one per token position, see :func:`_pool`) are learned
    too. Deterministic for a given seed on one thread. Returns ``(E, b,
    positions)`` float32.
    """
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    e0 = torch.from_numpy(np.ascontiguousarray(init, dtype=np.float32))
    v, d = e0.shape
    k = teacher.shape[1]
    w = torch.nn.Parameter(torch.eye(d, k))
    bias = torch.nn.Parameter(torch.zeros(k))
    # Position weights g = softplus(raw), starting at 1 (a plain mean): MiniLM does not weigh every
    # position alike (the opening words of a text count more), and a bag of tokens can learn that much.
    max_len = max((len(x) for x in ids), default=1)
    raw_pos = torch.nn.Parameter(torch.full((max_len,), float(np.log(np.e - 1))))
    # D as a sparse embedding: each step touches only the rows of the tokens in its batch.
    delta = torch.nn.Embedding(v, k, sparse=True)
    torch.nn.init.zeros_(delta.weight)
    dense_opt = torch.optim.Adam([w, bias, raw_pos], lr=lr)
    sparse_opt = torch.optim.SparseAdam(list(delta.parameters()), lr=lr)
    y = torch.from_numpy(np.ascontiguousarray(teacher, dtype=np.float32))
    flat = [torch.tensor(x, dtype=torch.long) for x in ids]
    rng = np.random.default_rng(seed)

    def forward(rows: Sequence[int], source=flat) -> tuple[torch.Tensor, torch.Tensor]:
        toks = torch.cat([source[r] for r in rows])
        lengths = torch.tensor([len(source[r]) for r in rows], dtype=torch.long)
        offsets = torch.cumsum(lengths, 0) - lengths
        at = torch.arange(len(toks)) - torch.repeat_interleave(offsets, lengths)
        g = F.softplus(raw_pos)[torch.clamp(at, max=max_len - 1)]
        bag = torch.repeat_interleave(torch.arange(len(lengths)), lengths)
        uniq, inverse = torch.unique(toks, return_inverse=True)
        rows_delta = delta(uniq)
        table = e0[uniq] @ w + rows_delta
        summed = F.embedding_bag(inverse, table, offsets, mode="sum", per_sample_weights=g)
        norm = torch.zeros(len(lengths)).index_add(0, bag, g)
        return summed / norm[:, None] + bias, rows_delta

    for epoch in range(epochs):
        order = rng.permutation(len(flat))
        total = 0.0
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            pooled, rows_delta = forward(rows)
            loss = (1 - F.cosine_similarity(pooled, y[rows])).mean()
            objective = loss + decay * rows_delta.pow(2).sum(dim=1).mean()
            if pairs is not None and len(pairs):
                pick = pairs[rng.integers(len(pairs), size=batch_size // 2)]
                a, _ = forward(pick[:, 0])
                b, _ = forward(pick[:, 1])
                student_sim = F.cosine_similarity(a, b)
                teacher_sim = (y[pick[:, 0]] * y[pick[:, 1]]).sum(dim=1)
                gap = torch.log(1.01 - student_sim) - torch.log(1.01 - teacher_sim)
                objective = objective + pair_weight * gap.pow(2).mean()
            dense_opt.zero_grad()
            sparse_opt.zero_grad()
            objective.backward()
            dense_opt.step()
            sparse_opt.step()
            total += float(loss.detach()) * len(rows)
        if log:
            msg = f"  fit epoch {epoch + 1}/{epochs}: train cosine {1 - total / len(flat):.4f}"
            if valid is not None:
                with torch.no_grad():
                    vflat = [torch.tensor(x, dtype=torch.long) for x in valid[0]]
                    pooled, _ = forward(range(len(vflat)), vflat)
                    cos = F.cosine_similarity(pooled, torch.from_numpy(valid[1])).mean()
                msg += f", held cosine {float(cos):.4f}"
            log(msg)
    with torch.no_grad():
        table = (e0 @ w + delta.weight).numpy().astype(np.float32)
        positions = F.softplus(raw_pos).numpy().astype(np.float32)
    return table, bias.detach().numpy().astype(np.float32), positions


def write_artifact(out: str | os.PathLike, embeddings: np.ndarray, bias: np.ndarray, tau: float,
                   positions: np.ndarray | None = None, **info) -> FastEmbedder:
    """Write an artifact (MiniLM's tokenizer, these token vectors, bias and position weights, this tau), load it.

    ``positions`` None = equal weights (a plain mean).
    """
    from anchormix.embed import default_model_path

    config = {"format": FORMAT, "max_seq_length": MAX_SEQ_LENGTH, "tau": round(float(tau), 6), **info}
    if positions is None:
        positions = np.ones(MAX_SEQ_LENGTH, np.float32)
    _write(Path(out), default_model_path() / "tokenizer.json", embeddings, bias, positions, config)
    return FastEmbedder.load(out)


def _write(out: Path, tokenizer_json: Path, embeddings: np.ndarray, bias: np.ndarray, positions: np.ndarray,
           config: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tmp = {name: out / (name + ".tmp") for name in _FILES}
    (tmp["tokenizer.json"]).write_bytes(tokenizer_json.read_bytes())
    with open(tmp["embeddings.npy"], "wb") as fh:
        np.save(fh, np.ascontiguousarray(embeddings, dtype=np.float32))
    with open(tmp["bias.npy"], "wb") as fh:
        np.save(fh, np.ascontiguousarray(bias, dtype=np.float32))
    with open(tmp["positions.npy"], "wb") as fh:
        np.save(fh, np.ascontiguousarray(positions, dtype=np.float32))
    tmp["config.json"].write_text(json.dumps(config, indent=1, sort_keys=True) + "\n")
    for name, path in tmp.items():
        os.replace(path, out / name)


def build(out: str | os.PathLike, max_train: int = 30000, epochs: int = 10, calibration_texts: int = 3000,
          exclude: Iterable[str] = EVAL_PACKAGES, exclude_texts: Iterable[str] = (), fit: bool = True,
          seed: int = 0, cache_dir: str | os.PathLike | None = None, roots: Iterable[str | os.PathLike] | None = None,
          only_used_tokens: bool = False, pair_texts: int = 6000, pair_weight: float = 0.5, log=print) -> Path:
    """Distill, fit and calibrate a fast embedder from the bundled MiniLM into ``out`` (see the module doc).

    ``max_train`` caps the training docstrings (the teacher's encoding of them
    is most of the time); ``fit`` False keeps the plain distilled token vectors
    (step 3 skipped); ``exclude_texts`` are never trained on. ``cache_dir``
    keeps MiniLM's vectors of the corpus between builds. ``roots`` (default
    site-packages) are where docstrings are harvested; ``only_used_tokens``
    distills just the corpus's tokens (small test artifacts). ``pair_texts``
    training texts get an edited copy whose similarity to the original is
    fitted too (``pair_weight``). Offline.
    """
    from anchormix.embed import EmbeddingSettings, default_model_path, model_id

    out = Path(out)
    started, cpu = time.time(), time.process_time()
    settings, model = _teacher()
    vocab = model.tokenizer.vocab_size if hasattr(model.tokenizer, "vocab_size") else len(model.tokenizer)
    texts = harvest_docstrings(roots, exclude=exclude, exclude_texts=exclude_texts)
    rng = np.random.default_rng(seed)
    texts = [texts[i] for i in rng.permutation(len(texts))]
    calib_src = texts[:calibration_texts // 2]
    train = texts[calibration_texts // 2:][:max_train]
    log(f"corpus: {len(texts)} docstrings harvested; {len(train)} to fit, {len(calib_src)} (+ one edit each) to calibrate")

    from tokenizers import Tokenizer

    tokenizer_json = default_model_path() / "tokenizer.json"
    tokenizer = Tokenizer.from_file(str(tokenizer_json))
    _configure_tokenizer(tokenizer, MAX_SEQ_LENGTH)
    cut = CHARS_PER_TOKEN * MAX_SEQ_LENGTH
    variants, _ = near_duplicates(calib_src, seed=seed + 1)
    calib = list(calib_src) + variants
    used = None
    if only_used_tokens:
        used = {i for ids in _token_ids(tokenizer, train + calib, MAX_SEQ_LENGTH, cut) for i in ids}
    log(f"distilling {vocab if used is None else len(used)} token vectors from MiniLM")
    distilled = None
    if cache_dir is not None and used is None:
        distilled = Path(cache_dir) / f"distilled-{hashlib.sha256(model_id(settings).encode()).hexdigest()[:16]}.npy"
    if distilled is not None and distilled.is_file():
        init = np.load(distilled)
    else:
        init = distill_token_vectors(model, vocab, only=used)
        if distilled is not None:
            np.save(distilled, init)
    bias = np.zeros(init.shape[1], np.float32)
    table, positions = init, None
    if fit:
        n_valid = min(1000, len(train) // 10)
        fit_texts = list(train[n_valid:])
        n_pairs = min(pair_texts, len(fit_texts))
        # Near-duplicates of some training texts join the corpus, and each (text, edit) pair's similarity
        # is fitted to MiniLM's: the duplicate threshold lives in that high-similarity range.
        edited, _ = near_duplicates(fit_texts[:n_pairs], seed=seed + 2)
        pairs = np.stack([np.arange(n_pairs), len(fit_texts) + np.arange(n_pairs)], axis=1)
        fit_texts += edited
        teacher = _teacher_encode(model, settings, list(train[:n_valid]) + fit_texts, log, cache_dir)
        ids = _token_ids(tokenizer, list(train[:n_valid]) + fit_texts, MAX_SEQ_LENGTH, cut)
        log(f"fitting token vectors to MiniLM's vectors of {len(fit_texts)} texts ({n_pairs} edited copies, "
            f"their pair similarities fitted too; {n_valid} held to watch)")
        table, bias, positions = fit_token_vectors(ids[n_valid:], teacher[n_valid:], init, epochs=epochs, seed=seed,
                                        valid=(ids[:n_valid], teacher[:n_valid]), pairs=pairs,
                                        pair_weight=pair_weight, log=log)

    calib_teacher = _teacher_encode(model, settings, calib, log, cache_dir)
    calib_student = _pool(_token_ids(tokenizer, calib, MAX_SEQ_LENGTH, cut), table, bias, positions)
    tau, recall, precision = calibrate_tau(calib_student, calib_teacher)
    log(f"calibrated tau {tau:.4f}: recall {recall:.3f}, precision {precision:.3f} of MiniLM's pairs at "
        f"{TEACHER_TAU} among {len(calib)} calibration texts")
    built = write_artifact(
        out, table, bias, tau, positions, teacher=model_id(EmbeddingSettings()), teacher_tau=TEACHER_TAU, fit=fit,
        epochs=epochs if fit else 0, train_texts=len(train) if fit else 0, seed=seed,
        pair_texts=pair_texts if fit else 0, pair_weight=pair_weight if fit else 0,
        calibration={"texts": len(calib), "recall": round(recall, 4), "precision": round(precision, 4)})
    log(f"wrote {out} ({built.model_id}) in {time.time() - started:.0f} s wall, {time.process_time() - cpu:.0f} CPU-s")
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m anchormix.fast_embed", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="distill a fast embedder from the bundled MiniLM (offline; about 20 CPU-minutes from nothing)")
    b.add_argument("--out", required=True, help="artifact directory, e.g. var/models/fast-embedder")
    b.add_argument("--max-train", type=int, default=30000)
    b.add_argument("--epochs", type=int, default=10)
    b.add_argument("--pair-texts", type=int, default=6000, help="training texts given an edited copy")
    b.add_argument("--pair-weight", type=float, default=0.5)
    b.add_argument("--no-fit", action="store_true", help="plain distillation: skip fitting to MiniLM's vectors")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--cache", help="directory keeping MiniLM's vectors of the corpus between builds")
    args = parser.parse_args(argv)
    if args.command == "build":
        build(args.out, max_train=args.max_train, epochs=args.epochs, fit=not args.no_fit, seed=args.seed,
              cache_dir=args.cache, pair_texts=args.pair_texts, pair_weight=args.pair_weight)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
