"""Term counts of a fixed n-gram vocabulary, computed over a whole batch of texts with numpy.

The detector's word and char blocks are scikit-learn ``TfidfVectorizer``s with a
fixed vocabulary. Their ``transform`` builds every n-gram of every text as a
Python string and looks it up in a dict: on a 100k drop that was most of the
provenance stage's CPU. :class:`VocabularyCounter` gives the same count matrix
(the same analyzer, the same vocabulary, the same column order) from hashes:

* ``char_wb`` n-grams: the batch's padded words (``" " + word + " "``, as
  scikit-learn's ``_char_wb_ngrams`` makes them) are laid end to end as one
  array of code points; the n-grams of each length are rolling 64-bit
  polynomial hashes over it, kept where they fit inside their word, and looked
  up by binary search among the hashes of the vocabulary's terms of that length.
* ``word`` 1- and 2-grams: tokens come from the same ``token_pattern``; each is
  mapped to an id among the words the vocabulary uses, and a bigram to the pair
  of ids, looked up among the vocabulary's pairs.

The hashes are exact for unigrams and bigrams of words; for char n-grams two
different strings of one length share a 64-bit hash with probability about
2^-64 per pair, which over a night's n-grams and a 200k vocabulary is far below
one in a million. :class:`TfidfFromCounts` then applies scikit-learn's
sublinear TF, IDF and L2 normalisation in scikit-learn's order, so the matrix
equals ``vectorizer.transform(texts)`` to float32 rounding
(``tests/anchormix/provenance/test_ngram_counts.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import chain

import numpy as np
import scipy.sparse as sp

# A fixed odd multiplier: the hashes are only ever compared within one process run.
_MULT = np.uint64(0x9E3779B97F4A7C15)
CHUNK_TEXTS = 256


def _term_hashes(terms: list[str], n: int) -> np.ndarray:
    """The rolling hash of each ``n``-character term, as ``VocabularyCounter`` computes it over a text."""
    if not terms:
        return np.zeros(0, dtype=np.uint64)
    codes = np.frombuffer("".join(terms).encode("utf-32-le"), dtype=np.uint32).reshape(len(terms), n)
    h = codes[:, 0].astype(np.uint64)
    with np.errstate(over="ignore"):
        for k in range(1, n):
            h = h * _MULT + codes[:, k].astype(np.uint64)
    return h


class _Lookup:
    """The vocabulary column of each key of one n-gram length, found through a hash table."""

    def __init__(self, keys, cols: list[int]):
        import pandas as pd

        self.index = pd.Index(np.asarray(keys, dtype=np.uint64))
        if not self.index.is_unique:
            raise ValueError("two vocabulary terms of one length share a 64-bit hash")
        self.cols = np.array(cols, dtype=np.int64)

    def find(self, query: np.ndarray) -> np.ndarray:
        """Column of each query key, -1 where the key is not in the vocabulary."""
        if not len(self.cols) or not len(query):
            return np.full(len(query), -1, dtype=np.int64)
        pos = self.index.get_indexer(query)
        return np.where(pos >= 0, self.cols[pos], -1)


class VocabularyCounter:
    """``CountVectorizer(analyzer, ngram_range, vocabulary).transform`` for the two analyzers the detector uses.

    ``analyzer`` is ``"char_wb"`` (any ``ngram_range``) or ``"word"`` with a
    ``token_pattern`` and ``ngram_range`` of (1, 1) or (1, 2); texts are
    lower-cased first, as scikit-learn's default ``lowercase=True`` does.
    """

    def __init__(self, vocabulary: dict[str, int], analyzer: str, ngram_range: tuple[int, int],
                 token_pattern: str | None = None):
        if analyzer not in ("char_wb", "word"):
            raise ValueError(f"unsupported analyzer {analyzer!r}")
        if analyzer == "word" and tuple(ngram_range) not in ((1, 1), (1, 2)):
            raise ValueError(f"word ngram_range {ngram_range} is not (1, 1) or (1, 2)")
        self.analyzer = analyzer
        self.ngram_range = tuple(ngram_range)
        self.n_features = len(vocabulary)
        if analyzer == "char_wb":
            by_len: dict[int, tuple[list[str], list[int]]] = {}
            for term, col in vocabulary.items():
                terms, cols = by_len.setdefault(len(term), ([], []))
                terms.append(term)
                cols.append(col)
            self._char = {n: _Lookup(_term_hashes(terms, n), cols) for n, (terms, cols) in by_len.items()}
        else:
            self._token = re.compile(token_pattern)
            words = sorted({w for term in vocabulary for w in term.split(" ")})
            self._word_id = {w: i for i, w in enumerate(words)}
            unigram = np.full(len(words) + 1, -1, dtype=np.int64)  # the last slot: a word outside the vocabulary
            pairs, pair_cols = [], []
            for term, col in vocabulary.items():
                parts = term.split(" ")
                if len(parts) == 1:
                    unigram[self._word_id[term]] = col
                else:
                    pairs.append(self._word_id[parts[0]] * (len(words) + 1) + self._word_id[parts[1]])
                    pair_cols.append(col)
            self._unigram = unigram
            self._pairs = _Lookup(pairs, pair_cols)
            self._n_words = len(words)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Counts ``[len(texts), n_features]`` (float32, sorted indices), as scikit-learn's ``transform``."""
        # Every n-gram position of a chunk is held at once (hash, position, hit), so a chunk bounds the memory.
        if len(texts) > CHUNK_TEXTS:
            return sp.vstack([self._transform(texts[i:i + CHUNK_TEXTS]) for i in range(0, len(texts), CHUNK_TEXTS)],
                             format="csr")
        return self._transform(texts)

    def _transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        lowered = [t.lower() for t in texts]
        rows, cols = self._char_hits(lowered) if self.analyzer == "char_wb" else self._word_hits(lowered)
        m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                          shape=(len(texts), self.n_features), dtype=np.float32)
        m.sum_duplicates()
        return m

    def _char_hits(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.ngram_range
        if lo != 1:
            raise ValueError("char_wb n-grams must start at length 1 (a padded word then has every length up to its own)")
        # scikit-learn pads each whitespace-split word with one space on each side; laid end to end they tile
        # the string, so a padded word ends one past the space after its last character.
        padded = [" " + "  ".join(words) + " " if (words := t.split()) else "" for t in texts]
        codes = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32)
        if not len(codes):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        doc = np.repeat(np.arange(len(texts)), [len(p) for p in padded])
        letter = codes != 32
        ends = np.flatnonzero(letter[:-1] & ~letter[1:]) + 2
        starts = np.concatenate(([0], ends[:-1]))
        room = np.repeat(ends, ends - starts) - np.arange(len(codes))  # characters left in this padded word
        wide = codes.astype(np.uint64)
        h = wide.copy()
        all_rows, all_cols = [], []
        for n in range(1, hi + 1):
            if n > 1:
                with np.errstate(over="ignore"):
                    h[: len(h) - n + 1] = h[: len(h) - n + 1] * _MULT + wide[n - 1:]
            lookup = self._char.get(n)
            if n < lo or lookup is None:
                continue
            # A padded word shorter than n is taken whole at n == its length, so "fits in the word" is the rule.
            at = np.flatnonzero(room >= n)
            c = lookup.find(h[at])
            hit = c >= 0
            all_rows.append(doc[at[hit]].astype(np.int32))
            all_cols.append(c[hit].astype(np.int32))
        if not all_rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(all_rows), np.concatenate(all_cols)

    def _word_hits(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        tokens = [self._token.findall(t) for t in texts]
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        outside = self._n_words
        get = self._word_id.get
        ids = np.fromiter((get(w, outside) for w in chain.from_iterable(tokens)), dtype=np.int64,
                          count=int(lengths.sum()))
        doc = np.repeat(np.arange(len(texts)), lengths)
        uni = self._unigram[ids]
        keep = uni >= 0
        rows, cols = [doc[keep]], [uni[keep]]
        if self.ngram_range[1] == 2 and len(ids) > 1:
            same_doc = doc[:-1] == doc[1:]
            known = (ids[:-1] != outside) & (ids[1:] != outside) & same_doc
            first = np.flatnonzero(known)
            keys = (ids[first] * (outside + 1) + ids[first + 1]).astype(np.uint64)
            c = self._pairs.find(keys)
            hit = c >= 0
            rows.append(doc[first[hit]])
            cols.append(c[hit])
        return np.concatenate(rows), np.concatenate(cols)


class TfidfFromCounts:
    """A fitted ``TfidfVectorizer`` (sublinear TF, IDF, L2 rows) whose counting is :class:`VocabularyCounter`."""

    def __init__(self, vectorizer):
        params = vectorizer.get_params()
        if not params.get("lowercase", True) or params.get("strip_accents") or params.get("preprocessor") \
                or params.get("tokenizer") or params.get("stop_words") or callable(params.get("analyzer")):
            raise ValueError("only the detector's plain lower-cased analyzers are supported")
        self.counter = VocabularyCounter(vectorizer.vocabulary_, params["analyzer"], params["ngram_range"],
                                         params.get("token_pattern"))
        self.sublinear_tf = bool(params.get("sublinear_tf"))
        self.idf = np.asarray(vectorizer.idf_, dtype=np.float32) if params.get("use_idf", True) else None
        self.norm = params.get("norm")
        self.dtype = params.get("dtype", np.float64)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """What ``vectorizer.transform(texts)`` returns."""
        from sklearn.preprocessing import normalize

        X = self.counter.transform(texts).astype(self.dtype)
        if self.sublinear_tf:
            np.log(X.data, X.data)
            X.data += 1
        if self.idf is not None:
            X.data *= self.idf[X.indices]
        if self.norm is not None:
            X = normalize(X, norm=self.norm, copy=False)
        return X


def discover_vocabulary(texts: Sequence[str], analyzer: str, ngram_range: tuple[int, int],
                        token_pattern: str | None = None, min_count: int = 2) -> dict[str, int]:
    """The n-grams of ``texts`` that occur at least ``min_count`` times in all, numbered in sorted order.

    With ``min_count`` 1 this is ``CountVectorizer(analyzer, ngram_range).fit(texts).vocabulary_``; with 2
    it leaves out the n-grams seen once, which no ``min_df >= 2`` vocabulary fitted on any subset of
    ``texts`` can keep.
    """
    lowered = [t.lower() for t in texts]
    if analyzer == "char_wb":
        terms = _char_terms(lowered, ngram_range, min_count)
    elif analyzer == "word" and tuple(ngram_range) in ((1, 1), (1, 2)):
        terms = _word_terms(lowered, re.compile(token_pattern), ngram_range[1], min_count)
    else:
        raise ValueError(f"unsupported analyzer {analyzer!r} with ngram_range {ngram_range}")
    return {t: j for j, t in enumerate(sorted(terms))}


def _char_terms(texts: list[str], ngram_range: tuple[int, int], min_count: int) -> list[str]:
    lo, hi = ngram_range
    if lo != 1:
        raise ValueError("char_wb n-grams must start at length 1")
    # Chunk by chunk, each n-gram length keeps (hash, count, chunk, position of a first occurrence); the chunks
    # are merged by hash at the end, so memory follows a chunk's positions, not the whole training set's.
    joined_chunks: list[str] = []
    found: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = {n: [] for n in range(1, hi + 1)}
    for c, start in enumerate(range(0, len(texts), CHUNK_TEXTS)):
        joined = "".join(" " + "  ".join(words) + " " if (words := t.split()) else ""
                         for t in texts[start:start + CHUNK_TEXTS])
        joined_chunks.append(joined)
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        if not len(codes):
            continue
        letter = codes != 32
        ends = np.flatnonzero(letter[:-1] & ~letter[1:]) + 2
        starts = np.concatenate(([0], ends[:-1]))
        room = np.repeat(ends, ends - starts) - np.arange(len(codes))
        wide = codes.astype(np.uint64)
        h = wide.copy()
        for n in range(1, hi + 1):
            if n > 1:
                with np.errstate(over="ignore"):
                    h[: len(h) - n + 1] = h[: len(h) - n + 1] * _MULT + wide[n - 1:]
            at = np.flatnonzero(room >= n)
            keys, first, count = np.unique(h[at], return_index=True, return_counts=True)
            found[n].append((keys, count, np.full(len(keys), c, dtype=np.int64), at[first]))
    terms: list[str] = []
    for n, parts in found.items():
        if not parts:
            continue
        keys, count, chunk, pos = (np.concatenate(col) for col in zip(*parts))
        unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        total = np.bincount(inverse.ravel(), weights=count, minlength=len(unique))
        kept = first[total >= min_count]
        terms.extend(joined_chunks[c][p:p + n] for c, p in zip(chunk[kept].tolist(), pos[kept].tolist()))
    return terms


def _word_terms(texts: list[str], token: re.Pattern, max_n: int, min_count: int) -> list[str]:
    from collections import Counter

    unigrams: Counter = Counter()
    ids_of: dict[str, int] = {}
    pair_keys, pair_counts = [], []
    for start in range(0, len(texts), CHUNK_TEXTS):
        tokens = [token.findall(t) for t in texts[start:start + CHUNK_TEXTS]]
        unigrams.update(chain.from_iterable(tokens))
        if max_n < 2:
            continue
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        ids = np.fromiter((ids_of.setdefault(w, len(ids_of)) for w in chain.from_iterable(tokens)), dtype=np.int64,
                          count=int(lengths.sum()))
        doc = np.repeat(np.arange(len(tokens)), lengths)
        first = np.flatnonzero(doc[:-1] == doc[1:]) if len(ids) > 1 else np.zeros(0, np.int64)
        keys, count = np.unique((ids[first] << 32) + ids[first + 1], return_counts=True)
        pair_keys.append(keys)
        pair_counts.append(count)
    terms = [w for w, c in unigrams.items() if c >= min_count]
    if pair_keys:
        vocab = list(ids_of)
        keys, inverse = np.unique(np.concatenate(pair_keys), return_inverse=True)
        total = np.bincount(inverse.ravel(), weights=np.concatenate(pair_counts), minlength=len(keys))
        terms.extend(vocab[k >> 32] + " " + vocab[k & 0xFFFFFFFF] for k in keys[total >= min_count].tolist())
    return terms


class FastTermCounts:
    """``CountVectorizer(analyzer, ngram_range).fit_transform(texts)`` restricted to n-grams seen twice or more:
    ``vocabulary`` (terms in sorted order, as ``get_feature_names_out``) and ``counts`` (csr, float32)."""

    def __init__(self, texts: Sequence[str], analyzer: str, ngram_range: tuple[int, int],
                 token_pattern: str | None = None):
        vocabulary = discover_vocabulary(texts, analyzer, ngram_range, token_pattern)
        self.vocabulary = np.array(sorted(vocabulary, key=vocabulary.get), dtype=object)
        self.counts = VocabularyCounter(vocabulary, analyzer, ngram_range, token_pattern).transform(texts)
