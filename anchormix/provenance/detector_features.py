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

# Per-character classes, read from a table for a whole batch of texts at once: the str predicates and regex
# calls one character, word or sentence at a time were most of scoring's cost.
_ALNUM, _SPACE, _DIGIT, _UPPER, _ALPHA, _LETTER, _APOS, _LOWER = (1 << b for b in range(8))
_WORD_LETTER = re.compile(r"[^\W\d_]")  # what _ALPHA_WORD's letter runs are made of
_STYLE_HEAD = 50_000  # characters of a text the block reads (all of it for commas)
_BATCH_CHARS = 1 << 20  # characters classified at a time: the per-character arrays stay under 100 MB


def _char_class(ch: str) -> int:
    return ((_ALNUM if ch.isalnum() else 0) | (_SPACE if ch.isspace() else 0) | (_DIGIT if ch.isdigit() else 0)
            | (_UPPER if ch.isupper() else 0) | (_ALPHA if ch.isalpha() else 0)
            | (_LETTER if _WORD_LETTER.match(ch) else 0) | (_APOS if ch in "'\u2019" else 0)
            | (_LOWER if ch.islower() else 0))


@lru_cache(maxsize=1)
def _bmp_classes() -> np.ndarray:
    table = np.fromiter((_char_class(chr(c)) for c in range(0x10000)), dtype=np.uint8, count=0x10000)
    table.setflags(write=False)
    return table


def _classes(points: np.ndarray) -> np.ndarray:
    """The class bits of each code point (outside the BMP, worked out once per distinct character)."""
    out = _bmp_classes()[np.minimum(points, 0xFFFF)]
    high = points > 0xFFFF
    if high.any():
        distinct, where = np.unique(points[high], return_inverse=True)
        out[high] = np.array([_char_class(chr(int(c))) for c in distinct], dtype=np.uint8)[where]
    return out


def _prefix(flags: np.ndarray) -> np.ndarray:
    """``c[j] - c[i]`` counts the true flags in ``[i, j)``."""
    return np.concatenate([[0], np.cumsum(flags, dtype=np.int32)])


def _shifted(flags: np.ndarray, by: int) -> np.ndarray:
    """``flags`` moved ``by`` places later (``by`` < 0: earlier), False where nothing moved in."""
    out = np.zeros(len(flags), dtype=bool)
    if by > 0:
        out[by:] = flags[:-by]
    else:
        out[:by] = flags[-by:]
    return out


def _first_at_or_after(hit: np.ndarray) -> np.ndarray:
    """For each position, the first position at or after it where ``hit`` holds (``len(hit)`` if none)."""
    n = len(hit)
    return np.minimum.accumulate(np.where(hit, np.arange(n), n)[::-1])[::-1]


def _last_at_or_before(hit: np.ndarray) -> np.ndarray:
    """For each position, the last position at or before it where ``hit`` holds (-1 if none)."""
    return np.maximum.accumulate(np.where(hit, np.arange(len(hit)), -1))


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
    Words are ``_ALPHA_WORD`` matches and sentences non-blank ``_SENTENCE`` matches, in a text's first 50,000
    characters (commas: in all of it). Missing or empty text gives a row of zeros (the detector abstains on it
    anyway).
    """
    rows = np.zeros((len(texts), N_STYLE), dtype=np.float32)
    full = [text_of(value) or "" for value in texts]
    heads = [t[:_STYLE_HEAD] for t in full]
    lo = 0
    while lo < len(heads):
        hi, size = lo + 1, len(heads[lo]) + 1
        while hi < len(heads) and size + len(heads[hi]) + 1 <= _BATCH_CHARS:
            size += len(heads[hi]) + 1
            hi += 1
        rows[lo:hi] = _style_rows(heads[lo:hi], [t.count(",") for t in full[lo:hi]])
        lo = hi
    return np.clip(rows, 0.0, 1.0)


def _style_rows(heads: list[str], commas: list[int]) -> np.ndarray:
    """The unclipped rows of ``heads``, whose characters are classified together."""
    # Joined by line breaks: a break is neither a letter nor an apostrophe and ends a sentence, so no word or
    # sentence runs from one text into the next.
    joined = "\n".join(heads) + "\n"
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    cls = _classes(points)
    n = len(cls)
    letter, apos, space = (cls & _LETTER) != 0, (cls & _APOS) != 0, (cls & _SPACE) != 0
    # A word is a run of letters, continued across one apostrophe between two letters.
    prev_letter, next_letter = _shifted(letter, 1), _shifted(letter, -1)
    bridge = apos & prev_letter & next_letter
    start = letter & ~prev_letter & ~_shifted(bridge, 1)
    single_i = start & (points == ord("i")) & ~next_letter & ~_shifted(bridge, -1)
    bounds = np.cumsum([0] + [len(h) + 1 for h in heads])
    a, b = bounds[:-1], bounds[1:] - 1
    # Counts per text in one pass; each text's segment ends with its line break, taken off again below.
    flags = np.column_stack([start, letter | bridge, single_i, (cls & _ALNUM) != 0, space, (cls & _DIGIT) != 0,
                             (cls & _UPPER) != 0, (cls & _ALPHA) != 0, points == 10])
    summed = np.add.reduceat(flags.astype(np.int32), a, axis=0) - np.array([0, 0, 0, 0, 1, 0, 0, 0, 1])
    per_text = dict(zip(("words", "word_chars", "i", "alnum", "space", "digit", "upper", "alpha", "breaks"),
                        summed.T))
    n_toks = per_text["words"]

    # Sentences (_SENTENCE): each run of characters other than . ! ? and line breaks, with the marks after it;
    # blank ones do not count.
    mark = (points == 46) | (points == 33) | (points == 63)
    delim = mark | (points == 10)
    # A run starts at 0 or after a delimiter; the joined text ends in a line break, so every run ends before it.
    s_lo = np.flatnonzero(~delim & ~_shifted(~delim, 1))
    s_words = np.flatnonzero(~delim & _shifted(delim, -1)) + 1
    s_hi = _first_at_or_after(~mark)[s_words]
    sp = _prefix(space)
    keep = (s_hi - s_lo) > (sp[s_hi] - sp[s_lo])
    s_lo, s_hi, s_words = s_lo[keep], s_hi[keep], s_words[keep]
    text_of_sentence = np.searchsorted(bounds, s_lo, side="right") - 1
    # First and last non-space character of each sentence.
    first = _first_at_or_after(~space)[s_lo]
    last = _last_at_or_before(~space)[s_hi - 1]
    starts_lower = (cls[first] & _LOWER) != 0
    ends_excl = (points[last] == 33) | (points[last] == 63)
    ws = _prefix(start)
    lengths = (ws[s_words] - ws[s_lo]).astype(np.float64)
    k = len(heads)
    n_sent = np.bincount(text_of_sentence, minlength=k)
    total = np.bincount(text_of_sentence, weights=lengths, minlength=k)
    has = n_sent > 0
    mean = np.where(has, total / np.maximum(n_sent, 1), n_toks)  # no sentence: one of all the words
    dev = lengths - mean[text_of_sentence]
    var = np.bincount(text_of_sentence, weights=dev * dev, minlength=k) / np.maximum(n_sent, 1)
    mean_len = np.maximum(mean, 1.0)
    sent = np.maximum(n_sent, 1)
    lower = np.bincount(text_of_sentence, weights=starts_lower, minlength=k)
    excl = np.bincount(text_of_sentence, weights=ends_excl, minlength=k)
    chars = np.maximum(b - a, 1)
    toks = np.maximum(n_toks, 1)
    # Type-token ratio: the words before the 101st word's start.
    word_at = np.append(np.flatnonzero(start), n)
    before = np.cumsum(np.concatenate([[0], n_toks[:-1]]))
    cut = np.where(n_toks > 100, word_at[np.minimum(before + 100, len(word_at) - 1)] - a, b - a)
    find = _ALPHA_WORD.findall
    ttr = np.array([len({w.lower() for w in set(find(h, 0, c))}) for h, c in zip(heads, cut.tolist())],
                   dtype=np.float64)
    out = np.column_stack([
        ttr / np.minimum(toks, 100),
        per_text["word_chars"] / toks / 12,
        mean_len / 60,
        np.sqrt(var) / mean_len / 2,
        np.asarray(commas) / toks * 4,
        lower / sent,
        per_text["i"] / toks * 20,
        excl / sent,
        per_text["breaks"] / toks * 10,
        (b - a - per_text["alnum"] - per_text["space"]) / chars * 5,
        per_text["digit"] / chars * 10,
        per_text["upper"] / np.maximum(per_text["alpha"], 1) * 5,
    ])
    out[n_toks == 0] = 0.0
    return out



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
