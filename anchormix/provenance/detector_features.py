"""What the synthetic-text detector sees: feature blocks and the text checks behind abstention.

Feature blocks (each a row-wise bounded vector, weighted, then concatenated):

* ``word``: word 1-2-gram TF-IDF, punctuation marks kept as tokens, sublinear
  term frequency, rows L2-normalised (so a row's norm is 1 at any length).
* ``char``: character 1-5-gram TF-IDF within word boundaries (``char_wb``),
  sublinear, rows L2-normalised.
* ``emb``: the record's sentence embedding (all-MiniLM-L6-v2 by default, the
  vector the pipeline computes and caches for its embeddings stage), unit norm.
* ``style``: twelve stylometric ratios, each length-normalised and clipped to
  [0, 1] (:func:`style_features`); the block's row is divided by sqrt(12) so its
  norm is at most 1 too. The old block (raw counts, log length, unbounded
  rates, then standard-scaled) let one short sentence score 1.0 and 40,000
  repeated words score 0.0; these ratios cannot leave [0, 1] whatever the text.

Every block's row has norm <= 1, so no input can make one block's share of the
linear score larger than its weight times the norm of its coefficients; on top
of that the detector squashes each block's contribution to the final log-odds
into (-cap, cap) (:mod:`anchormix.provenance.detector`).

Abstention (:func:`abstain_reason`) refuses a verdict, instead of guessing, for
text that is missing (None, NaN, empty), too short, written mostly in a script
the training texts did not use, or unlike the training texts' language (too few
of the training texts' most common words). The limits are learned from the
training texts (:class:`TextProfile`), so a model trained on tweets accepts
tweets and a model trained on essays abstains on them.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

BLOCKS = ("word", "char", "emb", "style")
TOKEN_PATTERN = r"(?u)\b\w+\b|[^\w\s]"
N_STYLE = 12

_WORD = re.compile(r"\w+(?:['\u2019]\w+)*", re.UNICODE)
_ALPHA_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*", re.UNICODE)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")

Embedder = Callable[[Sequence[str], Sequence[str]], np.ndarray]
"""``embed(content_hashes, texts) -> float32 [n, d]`` unit-norm vectors, in input order."""


def text_of(value: Any) -> str | None:
    """The text of a cell, or None when it holds no text (None, NaN, pd.NA, a non-string)."""
    if isinstance(value, str):
        return value
    return None


def words(text: str) -> list[str]:
    """Word tokens (letters/digits with inner apostrophes); emoji and punctuation are not words."""
    return _WORD.findall(text)


def script_of(ch: str) -> str | None:
    """The Unicode script of a letter, from its character name (LATIN, CJK, CYRILLIC, ...); None if not a letter."""
    if not ch.isalpha():
        return None
    name = unicodedata.name(ch, "")
    if not name:
        return "UNKNOWN"
    head = name.split()[0]
    return "CJK" if head in ("CJK", "HIRAGANA", "KATAKANA", "HANGUL") else head


def letter_scripts(text: str, limit: int = 20_000) -> Counter:
    """Letters per script in the first ``limit`` characters (scripts in order of first appearance)."""
    # Count characters in C, then name each distinct one once: a text has a few dozen distinct characters.
    scripts: Counter = Counter()
    for ch, n in Counter(text[:limit]).items():
        script = _script_of_cached(ch)
        if script is not None:
            scripts[script] += n
    return scripts


@lru_cache(maxsize=65_536)
def _script_of_cached(ch: str) -> str | None:
    return script_of(ch)


# ----------------------------------------------------------------------------- profile and abstention


@dataclass
class TextProfile:
    """What the training texts looked like, for abstention.

    ``min_words``: shorter texts abstain (the larger of ``[detector] min_words``
    and half the 5th percentile of the training texts' word counts).
    ``scripts``: share of training letters per script; a text whose letters
    are mostly (> 50 %) in scripts below 1 % of the training letters abstains.
    ``common_words``: the training texts' 100 most frequent lower-cased words;
    ``min_common_share``: a text with a smaller share of its words among them
    abstains (half the 1st percentile over the training texts).
    """

    min_words: int
    scripts: dict[str, float]
    common_words: list[str]
    min_common_share: float
    n_texts: int = 0
    word_quantiles: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["common_words"] = out["common_words"][:20]
        return out


def fit_profile(texts: Sequence[str], min_words: int) -> TextProfile:
    """Learn the abstention limits from the (usable) training texts."""
    counts = np.array([len(words(t)) for t in texts], dtype=float)
    scripts: Counter = Counter()
    doc_freq: Counter = Counter()
    for t in texts:
        scripts.update(letter_scripts(t))
        doc_freq.update({w.lower() for w in words(t[:20_000])})
    total = sum(scripts.values()) or 1
    # Document frequency, not raw counts: one long text must not define the language.
    common = [w for w, _ in doc_freq.most_common(100)]
    common_set = set(common)
    shares = np.array([_common_share(t, common_set) for t in texts], dtype=float)
    p5 = float(np.percentile(counts, 5)) if len(counts) else 0.0
    return TextProfile(
        min_words=int(max(min_words, math.floor(0.5 * p5))),
        scripts={k: v / total for k, v in scripts.most_common()},
        common_words=common,
        min_common_share=float(0.5 * np.percentile(shares, 1)) if len(shares) else 0.0,
        n_texts=len(texts),
        word_quantiles={q: float(np.percentile(counts, float(q))) for q in ("1", "5", "50", "95", "99")}
        if len(counts) else {},
    )


def _common_share(text: str, common: set[str]) -> float:
    toks = [w.lower() for w in words(text[:20_000])]
    return sum(w in common for w in toks) / len(toks) if toks else 0.0


def abstain_reason(value: Any, profile: TextProfile) -> str | None:
    """Why the detector must not give a verdict on this text, or None when it may."""
    text = text_of(value)
    if text is None:
        return "no_text: the text is missing (None or NaN)"
    if not text.strip():
        return "no_text: the text is empty"
    scripts = letter_scripts(text)
    n_letters = sum(scripts.values())
    if n_letters == 0:
        return "no_letters: the text has no letters (only symbols, digits, emoji or punctuation)"
    seen = {s for s, share in profile.scripts.items() if share >= 0.01}
    unseen = {s: n for s, n in scripts.items() if s not in seen}
    if sum(unseen.values()) > 0.5 * n_letters:
        main = max(unseen, key=unseen.get)
        trained = ", ".join(sorted(seen)) or "none"
        return (f"unseen_script: {sum(unseen.values()) / n_letters:.0%} of the letters are {main} "
                f"(the training texts were {trained})")
    n_words = len(words(text))
    if n_words < profile.min_words:
        return f"too_short: {n_words} words < {profile.min_words} (the shortest texts the model was trained for)"
    share = _common_share(text, set(profile.common_words))
    if share < profile.min_common_share:
        return (f"unseen_language: {share:.0%} of the words are among the training texts' 100 most common "
                f"(training texts: at least {profile.min_common_share:.0%})")
    return None


# ----------------------------------------------------------------------------- stylometric block


def _std(values: list[int], mean: float) -> float:
    """``np.std(values)``, the same float: below 8 values numpy sums in order, as this loop does, and a
    per-text array cost more than the sum."""
    if len(values) >= 8:
        return float(np.std(np.asarray(values, dtype=float)))
    total = 0.0
    for v in values:
        total += (v - mean) * (v - mean)
    return math.sqrt(total / len(values))


def style_features(texts: Sequence[str]) -> np.ndarray:
    """``N_STYLE`` length-normalised ratios per text, each clipped to [0, 1].

    0. type-token ratio of the first 100 words (lower-cased);
    1. mean word length / 12;
    2. mean sentence length in words / 60;
    3. spread of sentence lengths (coefficient of variation) / 2;
    4. commas per word x 4;
    5. share of sentences that start with a lower-case letter;
    6. share of words that are a lower-case "i" x 20 (a human slip);
    7. share of sentences ending in "!" or "?";
    8. line breaks per word x 10;
    9. share of characters that are punctuation x 5;
    10. share of characters that are digits x 10;
    11. share of letters that are upper-case x 5.
    Missing or empty text gives a row of zeros (the detector abstains on it anyway).
    """
    rows = np.zeros((len(texts), N_STYLE), dtype=np.float32)
    for i, value in enumerate(texts):
        text = text_of(value) or ""
        toks = _ALPHA_WORD.findall(text[:50_000])
        if not toks:
            continue
        head = [w.lower() for w in toks[:100]]
        head_text = text[:50_000]
        n_chars = max(1, len(head_text))
        sentences = [s for s in (m.group().strip() for m in _SENTENCE.finditer(text[:50_000])) if s]
        lengths = [len(_ALPHA_WORD.findall(s)) for s in sentences] or [len(toks)]
        mean = sum(lengths) / len(lengths)  # a sum of ints is exact, as numpy's mean of them is
        mean_len = max(mean, 1.0)
        n_sent = max(len(sentences), 1)
        rows[i] = [
            len(set(head)) / len(head),
            sum(map(len, toks)) / len(toks) / 12,
            mean_len / 60,
            _std(lengths, mean) / mean_len / 2,
            text.count(",") / len(toks) * 4,
            sum(1 for s in sentences if s[:1].islower()) / n_sent,
            sum(1 for w in toks if w == "i") / len(toks) * 20,
            sum(1 for s in sentences if s.endswith(("!", "?"))) / n_sent,
            head_text.count("\n") / len(toks) * 10,
            # Alphanumeric and space are disjoint, so punctuation is what is neither; map() with the str
            # predicates counts in C, where a generator per character was a third of scoring time.
            (len(head_text) - sum(map(str.isalnum, head_text)) - sum(map(str.isspace, head_text))) / n_chars * 5,
            sum(map(str.isdigit, head_text)) / n_chars * 10,
            sum(map(str.isupper, head_text)) / max(1, sum(map(str.isalpha, head_text))) * 5,
        ]
    return np.clip(rows, 0.0, 1.0)


# ----------------------------------------------------------------------------- the block matrices


def _analyzer_params(block: str) -> dict[str, Any]:
    if block == "word":
        return {"analyzer": "word", "token_pattern": TOKEN_PATTERN, "ngram_range": (1, 2)}
    return {"analyzer": "char_wb", "ngram_range": (1, 5)}


def word_vectorizer(max_features: int):
    """The word block as a plain scikit-learn vectorizer (fits its own vocabulary)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(**_analyzer_params("word"), min_df=2, sublinear_tf=True, max_features=max_features,
                           dtype=np.float32)


def char_vectorizer(max_features: int):
    """The char block as a plain scikit-learn vectorizer (fits its own vocabulary)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(**_analyzer_params("char"), min_df=2, sublinear_tf=True, max_features=max_features,
                           dtype=np.float32)


class TermCounts:
    """Raw n-gram counts of a fixed set of texts for the word and char blocks, computed once.

    Cross-validation and leave-one-source-out fit a dozen models on subsets of
    the same texts; tokenising is most of a fit's cost, so each subset's TF-IDF
    is built from these counts (vocabulary, min_df and IDF from the subset's
    rows only, exactly as a vectorizer fitted on the subset would).
    """

    def __init__(self, texts: Sequence[str], blocks: Sequence[str]):
        from anchormix.provenance.ngram_counts import FastTermCounts

        texts = [text_of(t) or "" for t in texts]
        self.vocab: dict[str, np.ndarray] = {}
        self.counts: dict[str, Any] = {}
        for block in blocks:
            if block not in ("word", "char"):
                continue
            # N-grams seen once are left out: a min_df of 2 drops them from every subset's vocabulary anyway.
            params = _analyzer_params(block)
            found = FastTermCounts(texts, params["analyzer"], params["ngram_range"], params.get("token_pattern"))
            self.counts[block] = found.counts
            self.vocab[block] = found.vocabulary
        self.style = style_features(texts) if "style" in blocks else None


class _CountTfidf:
    """Sublinear TF-IDF (smooth idf, L2 rows) from count rows, vocabulary chosen on the fit rows."""

    def __init__(self, max_features: int):
        self.max_features = max_features

    def fit(self, counts) -> "_CountTfidf":
        n = counts.shape[0]
        df = np.asarray((counts > 0).sum(axis=0)).ravel()
        total = np.asarray(counts.sum(axis=0)).ravel()
        cols = np.flatnonzero(df >= 2)
        if len(cols) > self.max_features:
            cols = np.sort(cols[np.argsort(-total[cols], kind="stable")[: self.max_features]])
        self.cols = cols
        self.idf = (np.log((1 + n) / (1 + df[cols])) + 1).astype(np.float32)
        return self

    def transform(self, counts):
        import scipy.sparse as sp
        from sklearn.preprocessing import normalize

        m = counts[:, self.cols].astype(np.float32).tocsr()
        m.data = 1 + np.log(m.data)
        return normalize(m @ sp.diags(self.idf), norm="l2", copy=False).tocsr()

    def vectorizer(self, block: str, vocab: np.ndarray):
        """A scikit-learn vectorizer that reproduces this transform on raw texts."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        terms = vocab[self.cols]
        v = TfidfVectorizer(**_analyzer_params(block), vocabulary={t: j for j, t in enumerate(terms)},
                            sublinear_tf=True, dtype=np.float32)
        v.fit(list(terms[:1]) or [""])
        v.idf_ = self.idf
        return v


class BlockFeatures:
    """Fit on training texts and vectors; transform to one weighted sparse matrix with known block columns.

    ``weights`` maps block name to its weight; a block of weight 0 (or absent)
    is left out. ``spans`` gives each block's column range, so the detector can
    split a linear score into per-block contributions.
    """

    def __init__(self, weights: dict[str, float], max_features: int):
        self.weights = {b: float(w) for b, w in weights.items() if w and b in BLOCKS}
        self.max_features = max_features
        self.vectorizers: dict[str, Any] = {}
        self.spans: dict[str, tuple[int, int]] = {}
        self.dim_emb = 0

    @property
    def needs_vectors(self) -> bool:
        return "emb" in self.weights

    def fit(self, counts: TermCounts, rows: np.ndarray, vectors: np.ndarray | None) -> "BlockFeatures":
        """Choose vocabularies and IDF on ``rows`` of ``counts`` (the texts ``counts`` was built from)."""
        self._tfidf = {b: _CountTfidf(self.max_features).fit(counts.counts[b][rows])
                       for b in ("word", "char") if b in self.weights}
        self._vocab = counts.vocab
        if self.needs_vectors:
            self.dim_emb = int(vectors.shape[1])
        return self

    def transform_rows(self, counts: TermCounts, rows: np.ndarray, texts: Sequence[str], vectors):
        """The matrix for ``rows`` of ``counts`` (``texts`` and ``vectors`` are those rows' texts and vectors)."""
        style = None if counts.style is None else counts.style[rows]
        return self._assemble(texts, vectors, lambda b: self._tfidf[b].transform(counts.counts[b][rows]), style)

    def freeze(self) -> "BlockFeatures":
        """Build plain vectorizers for raw texts and drop the count-based state (what a saved model keeps)."""
        self.vectorizers = {b: t.vectorizer(b, self._vocab[b]) for b, t in self._tfidf.items()}
        del self._tfidf, self._vocab
        return self

    def transform(self, texts: Sequence[str], vectors: np.ndarray | None):
        texts = [text_of(t) or "" for t in texts]
        return self._assemble(texts, vectors, lambda b: self._counting(b).transform(texts))

    def transform_blocks(self, texts: Sequence[str], vectors: np.ndarray | None) -> dict:
        """Each block's weighted matrix for raw texts: what :meth:`transform` stacks side by side, for a caller
        that wants one block at a time (stacking and then slicing columns back out cost scoring a third of
        its time)."""
        texts = [text_of(t) or "" for t in texts]
        return self._blocks(texts, vectors, lambda b: self._counting(b).transform(texts))

    def _counting(self, block: str):
        """The block's vectorizer with its counting done by hashes over the batch (the same matrix, a fraction
        of scikit-learn's per-n-gram Python cost); built on first use, not saved with the model."""
        from anchormix.provenance.ngram_counts import TfidfFromCounts

        fast = self.__dict__.setdefault("_fast", {})
        if block not in fast:
            fast[block] = TfidfFromCounts(self.vectorizers[block])
        return fast[block]

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_fast", None)
        return state

    def _assemble(self, texts, vectors, ngram_block, style=None):
        import scipy.sparse as sp

        return sp.hstack(list(self._blocks(texts, vectors, ngram_block, style).values()), format="csr")

    def _blocks(self, texts, vectors, ngram_block, style=None) -> dict:
        import scipy.sparse as sp

        parts, start = {}, 0
        for block in BLOCKS:
            if block not in self.weights:
                continue
            w = self.weights[block]
            if block in ("word", "char"):
                m = ngram_block(block)
            elif block == "emb":
                v = np.asarray(vectors, dtype=np.float32)
                if v.shape != (len(texts), self.dim_emb):
                    raise ValueError(f"expected {len(texts)} embedding vectors of dim {self.dim_emb}, got {v.shape}")
                norms = np.linalg.norm(v, axis=1, keepdims=True)
                m = sp.csr_matrix(np.where(norms > 0, v / np.maximum(norms, 1e-12), 0.0))
            else:
                m = sp.csr_matrix((style if style is not None else style_features(texts)) / math.sqrt(N_STYLE))
            parts[block] = (m * w).astype(np.float32)
            self.spans[block] = (start, start + m.shape[1])
            start += m.shape[1]
        return parts
