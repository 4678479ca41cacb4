"""Readable names for the k-means clusters of the pinned human baseline.

A gate verdict that says "cluster 11 lost 40% of its mass" sends the reader
digging; "cluster 'json · decoder · encode'" says what was lost. Each cluster
gets its top class-based TF-IDF terms (c-TF-IDF, as in BERTopic) and the ids of
the members closest to its centroid, so a label can be checked against real
examples.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

TOKEN_PATTERN = r"(?u)\b[a-zA-Z][a-zA-Z]{2,}\b"
SEP = " · "


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def _ctfidf(class_docs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """c-TF-IDF scores [k, vocab] and the vocabulary; empty arrays if no term survives."""
    vec = CountVectorizer(stop_words="english", lowercase=True, token_pattern=TOKEN_PATTERN,
                          ngram_range=(1, 1), min_df=1)
    try:
        counts = vec.fit_transform(class_docs).toarray().astype(np.float64)
    except ValueError:  # empty vocabulary: no text, or stop words only
        return np.zeros((len(class_docs), 0)), np.array([], dtype=object)
    vocab = vec.get_feature_names_out()
    keep = np.array([len(t) >= 3 and not t.isdigit() for t in vocab], dtype=bool)
    counts, vocab = counts[:, keep], vocab[keep]
    if counts.shape[1] == 0:
        return counts, vocab
    class_len = counts.sum(axis=1, keepdims=True)
    tf = counts / np.where(class_len > 0, class_len, 1.0)
    avg_words = float(class_len.mean())  # A: average number of words per class
    f_t = counts.sum(axis=0)  # frequency of each term over all classes (> 0 by construction)
    return tf * np.log1p(avg_words / f_t), vocab


def label_clusters(texts: Sequence[str], ids: Sequence[str], labels: np.ndarray, vectors: np.ndarray,
                   centroids: np.ndarray, n_terms: int = 3, n_exemplars: int = 3) -> list[dict]:
    """Name every baseline cluster by its top c-TF-IDF terms and its most central members.

    ``labels[i]`` is the cluster (0..k-1, k = ``len(centroids)``) of ``texts[i]``
    / ``ids[i]`` / ``vectors[i]``. Terms come from one document per cluster (its
    texts concatenated), weighted by class-normalised term frequency times
    ``log(1 + A / f_t)``, so words common to every cluster sink. Exemplars are the
    ids of the members with the highest cosine to the centroid, so a reader can
    check the name against real text. Returns one dict per cluster with keys
    ``cluster``, ``label``, ``terms``, ``exemplars`` and ``size``; an empty cluster
    is labelled ``"cluster c (empty)"``, one without usable terms ``"cluster c"``.
    """
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    centroids = np.asarray(centroids, dtype=np.float32)
    k, n = len(centroids), len(labels)
    if not (len(texts) == len(ids) == n == len(vectors)):
        raise ValueError(f"texts ({len(texts)}), ids ({len(ids)}), labels ({n}) and vectors "
                         f"({len(vectors)}) must have the same length")
    if n and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must lie in [0, {k}), got [{labels.min()}, {labels.max()}]")

    members = [np.flatnonzero(labels == c) for c in range(k)]
    scores, vocab = _ctfidf([" ".join(texts[i] or "" for i in m) for m in members])
    sims = _unit(vectors) @ _unit(centroids).T if n else np.zeros((0, k), dtype=np.float32)

    out = []
    for c, m in enumerate(members):
        if len(m) == 0:
            out.append({"cluster": c, "label": f"cluster {c} (empty)", "terms": [], "exemplars": [], "size": 0})
            continue
        terms: list[str] = []
        if vocab.size:
            row = scores[c]
            order = sorted(np.flatnonzero(row > 0), key=lambda j: (-row[j], vocab[j]))
            terms = [str(vocab[j]) for j in order[:n_terms]]
        near = m[np.argsort(-sims[m, c], kind="stable")[:n_exemplars]]
        out.append({"cluster": c, "label": SEP.join(terms) if terms else f"cluster {c}", "terms": terms,
                    "exemplars": [str(ids[i]) for i in near], "size": int(len(m))})
    return out


def cluster_name(clusters: list[dict] | None, c: int) -> str:
    """Readable name of cluster ``c`` for verdicts, e.g. ``"c11 'json · decoder · encode'"``.

    Falls back to ``"c11"`` when no labels are known (baselines pinned before
    labelling existed) or the cluster has no terms, and to ``"c11 (empty)"`` for
    an empty cluster, so callers never need to special-case old baselines.
    """
    entry = next((d for d in clusters or [] if d.get("cluster") == c), None)
    if entry is None:
        return f"c{c}"
    if entry.get("terms"):
        return f"c{c} '{entry['label']}'"
    return f"c{c} (empty)" if entry.get("size") == 0 else f"c{c}"
