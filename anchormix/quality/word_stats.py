"""The word counts the Gopher rules ask of every document, counted in numpy over a whole batch at once.

Gopher's word rules want, per document, how many tokens are words (not only
punctuation), how long those are, how many hold a letter, the most frequent 2-,
3- and 4-gram, and whether any 5- to 10-gram repeats. Asked token by token in
Python these were most of the quality stage's cost. Here each distinct token of
the batch is classified once, and the n-gram counts are sorts over the batch's
token ids:

- an n-gram's id is built from its (n-1)-gram's id and its last token, so the
  ids are exact (two n-grams share an id iff their tokens are equal) and are
  per document (the first token's id includes the document);
- the top n-gram of a document is its n-gram with the highest count, ties going
  to the one seen first, as ``Counter.most_common`` picks it;
- the duplicate-n-gram rule compares n-grams joined *without* spaces (as
  datatrove does), which different tokens can spell alike ("ab c" and "a bc").
  Each joined n-gram gets a polynomial hash of its characters; equal strings
  have equal hashes, so a document whose hashes are all distinct has no repeat,
  and the few documents with a shared hash are counted exactly
  (:meth:`~anchormix.quality.gopher_repetition.NGrams.duplicate_chars`). A hash
  collision can only cost that exact count, never change a result.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from dataclasses import dataclass

import numpy as np
import pandas as pd

from anchormix.quality.text import is_symbol_word

# Odd 64-bit constants: the character hash's base and the per-document mix (arithmetic wraps mod 2^64).
_BASE = np.uint64(0x9E3779B97F4A7C15)
_DOC_MIX = np.uint64(0xC2B2AE3D27D4EB4F)
_BLOCK_TOKENS = 1 << 15


@dataclass(frozen=True, slots=True)
class WordStats:
    """One document's word counts.

    ``words``: tokens; ``content``: tokens that are not only punctuation or symbols, and ``content_chars`` their
    characters; ``alpha``: tokens holding a letter; ``top_chars[n]``: characters of the most frequent n-gram
    (joined by spaces) times its count, 0 below the minimum count or with fewer than n tokens;
    ``repeat_candidates[n]``: the start positions (ascending) whose n-gram joined without spaces may occur
    again in the document; every position whose n-gram does is listed, and an n without a repeat is absent.
    """

    words: int
    content: int
    content_chars: int
    alpha: int
    top_chars: dict[int, int]
    repeat_candidates: dict[int, list[int]]


def _has_letter(word: str) -> bool:
    return word.isalpha() or any(c.isalpha() for c in word)


def batch_word_stats(token_lists: Sequence[tuple[str, ...]], top_ns: Sequence[int] = (2, 3, 4),
                     top_min_count: int = 1, repeat_ns: Sequence[int] = range(5, 11)) -> list[WordStats]:
    """:class:`WordStats` of each token sequence (from :func:`~anchormix.quality.text.split_words`)."""
    n_docs = len(token_lists)
    lengths = np.fromiter(map(len, token_lists), np.int64, n_docs)
    flat = list(chain.from_iterable(token_lists))
    # pandas' hash table numbers the tokens in C; each distinct token is classified once.
    ids, distinct = pd.factorize(np.array(flat, dtype=object), sort=False)
    ids = ids.astype(np.int64)
    distinct = distinct.tolist()
    size = np.fromiter(map(len, distinct), np.int64, len(distinct))
    content = ~np.fromiter(map(is_symbol_word, distinct), bool, len(distinct))
    alpha = np.fromiter(map(_has_letter, distinct), bool, len(distinct))
    doc = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    n_content = np.bincount(doc, weights=content[ids], minlength=n_docs).astype(np.int64).tolist()
    content_chars = np.bincount(doc, weights=(size * content)[ids], minlength=n_docs).astype(np.int64).tolist()
    n_alpha = np.bincount(doc, weights=alpha[ids], minlength=n_docs).astype(np.int64).tolist()
    starts = np.zeros(n_docs + 1, np.int64)
    np.cumsum(lengths, out=starts[1:])
    token_size = size[ids]

    tops: dict[int, list[int]] = {n: [] for n in top_ns}
    repeats: list[dict[int, list[int]]] = []
    lo = 0
    while lo < n_docs:
        # The n-gram counts go block by block, about _BLOCK_TOKENS tokens each: their hash tables and gathers
        # then stay in cache (twice as fast as one pass over a batch). A longer document is a block alone.
        hi = max(lo + 1, int(np.searchsorted(starts, starts[lo] + _BLOCK_TOKENS, side="right")) - 1)
        a, b = int(starts[lo]), int(starts[hi])
        block = _Block(doc[a:b] - lo, starts[lo:hi + 1] - a, token_size[a:b])
        for n, chars in _top_ngram_chars(ids[a:b], block, top_ns, top_min_count).items():
            tops[n] += chars.tolist()
        repeats += _repeat_candidates("".join(flat[a:b]), block, repeat_ns)
        lo = hi
    words = lengths.tolist()
    return [WordStats(words[i], n_content[i], content_chars[i], n_alpha[i], {n: tops[n][i] for n in top_ns},
                      repeats[i]) for i in range(n_docs)]


class _Block:
    """Consecutive documents whose n-grams are counted together: each token's document (from 0), each
    document's first token and one past its last, and each token's character offset in the joined tokens."""

    def __init__(self, doc: np.ndarray, starts: np.ndarray, token_size: np.ndarray):
        self.doc, self.starts, self.n_docs, self.total = doc, starts, len(starts) - 1, len(doc)
        self.chars = np.zeros(self.total + 1, np.int64)
        np.cumsum(token_size, out=self.chars[1:])
        self.end = starts[1:][doc]  # one past each token's document

    def gram_starts(self, n: int) -> np.ndarray:
        """Positions where an n-gram starts without crossing into the next document."""
        last = max(self.total - n + 1, 0)
        return np.flatnonzero(np.arange(last) + n <= self.end[:last])


def _top_ngram_chars(ids: np.ndarray, block: _Block, ns: Sequence[int], min_count: int) -> dict[int, np.ndarray]:
    doc, chars, total = block.doc, block.chars, block.total
    out = {n: np.zeros(block.n_docs, np.int64) for n in ns}
    if not ns or total == 0:
        return out
    vocab = int(ids.max()) + 1
    # Group ids number first appearances, and a key leads with its document: a document's groups are one run
    # of ids, in order of first occurrence.
    gram = pd.factorize(doc * vocab + ids, sort=False)[0].astype(np.int64)
    for n in range(2, max(ns) + 1):
        positions = block.gram_starts(n)
        if len(positions) == 0:
            break
        codes = pd.factorize(gram[positions] * vocab + ids[positions + n - 1], sort=False)[0].astype(np.int64)
        gram = np.zeros(total, np.int64)
        gram[positions] = codes  # positions that are not n-grams are never read again
        if n not in out:
            continue
        groups = int(codes.max()) + 1
        counts = np.bincount(codes, minlength=groups)
        first_at = np.empty(groups, np.int64)
        first_at[codes[::-1]] = positions[::-1]  # the last write of each group is its first position
        group_doc = doc[first_at]
        # Highest count first, then the earliest group (first occurrence).
        score = counts * (groups + 1) - np.arange(groups)
        seg = np.flatnonzero(np.r_[True, group_doc[1:] != group_doc[:-1]])
        best = np.maximum.reduceat(score, seg)
        count = -(-best // (groups + 1))
        at = first_at[count * (groups + 1) - best]
        spaced = chars[at + n] - chars[at] + n - 1
        out[n][group_doc[seg]] = np.where(count >= min_count, spaced * count, 0)
    return out


def _repeat_candidates(joined: str, block: _Block, ns: Sequence[int]) -> list[dict[int, list[int]]]:
    doc, starts, chars = block.doc, block.starts, block.chars
    found: list[dict[int, list[int]]] = [{} for _ in range(block.n_docs)]
    if not ns or block.total == 0:
        return found
    codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
    with np.errstate(over="ignore"):
        power = np.ones(len(codes) + 1, np.uint64)
        power[1:] = _BASE
        np.cumprod(power, out=power)
        inverse_power = np.ones(len(codes) + 1, np.uint64)
        inverse_power[1:] = np.uint64(pow(int(_BASE), -1, 1 << 64))
        np.cumprod(inverse_power, out=inverse_power)
        prefix = np.zeros(len(codes) + 1, np.uint64)
        np.cumsum((codes + np.uint64(1)) * power[:-1], out=prefix[1:])
        salt = doc.astype(np.uint64) * _DOC_MIX
        for n in ns:
            positions = block.gram_starts(n)
            if len(positions) < 2:
                continue
            lo, hi = chars[positions], chars[positions + n]
            # The hash of characters [lo, hi) wherever they sit, (P[hi] - P[lo]) / base^lo, salted by document.
            h = (prefix[hi] - prefix[lo]) * inverse_power[lo] + salt[positions]
            shared = positions[pd.Series(h).duplicated(keep=False).to_numpy()]
            if len(shared) == 0:
                continue
            owner = doc[shared]
            cuts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
            local = (shared - starts[owner]).tolist()
            for d, a, b in zip(owner[cuts].tolist(), cuts.tolist(), [*cuts[1:].tolist(), len(shared)]):
                found[d][n] = local[a:b]
    return found
