"""A word-level Markov (n-gram) text generator: the project's own generative model.

It is small and fast, and trained recursively (generation k on generation k-1's
output) it shows the same failure Shumailov et al. describe: n-grams that are
never sampled are never learned again, so the tails vanish first and the
vocabulary and variety shrink with every generation.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

_END = "\x00END"


@dataclass
class MarkovModel:
    """Counts of next words after each ``order``-word state."""

    order: int = 2
    transitions: dict[tuple[str, ...], dict[str, int]] = field(default_factory=dict)
    starts: list[tuple[str, ...]] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)

    @classmethod
    def train(cls, texts: list[str], order: int = 2) -> "MarkovModel":
        """Fit on whitespace-tokenized ``texts``."""
        table: dict[tuple[str, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        starts, lengths = [], []
        for text in texts:
            words = text.split()
            if len(words) <= order:
                continue
            starts.append(tuple(words[:order]))
            lengths.append(len(words))
            for i in range(len(words) - order):
                table[tuple(words[i:i + order])][words[i + order]] += 1
            table[tuple(words[-order:])][_END] += 1
        if not starts:
            raise ValueError(f"no training text has more than {order} words")
        return cls(order, {k: dict(v) for k, v in table.items()}, starts, lengths)

    def generate(self, n: int, seed: int, temperature: float = 1.0) -> list[str]:
        """Sample ``n`` documents; lengths follow the training documents' lengths.

        ``temperature`` < 1 sharpens the next-word distribution, as truncated
        sampling does in deployed language models.
        """
        rng = np.random.default_rng(seed)
        docs = []
        for _ in range(n):
            state = self.starts[rng.integers(len(self.starts))]
            limit = int(self.lengths[rng.integers(len(self.lengths))])
            words = list(state)
            while len(words) < limit:
                options = self.transitions.get(tuple(words[-self.order:]))
                if not options:
                    break
                tokens = list(options)
                weights = np.array([options[t] for t in tokens], dtype=float) ** (1.0 / temperature)
                nxt = tokens[rng.choice(len(tokens), p=weights / weights.sum())]
                if nxt == _END:
                    break
                words.append(nxt)
            docs.append(" ".join(words))
        return docs


def recursive_generations(seed_texts: list[str], generations: int, per_generation: int, seed: int,
                          order: int = 2, temperature: float = 1.0) -> list[list[str]]:
    """Generation 1 is trained on ``seed_texts``; generation k only on k-1's output (replace)."""
    out: list[list[str]] = []
    train = seed_texts
    for k in range(1, generations + 1):
        model = MarkovModel.train(train, order)
        batch = model.generate(per_generation, seed=seed * 1000 + k, temperature=temperature)
        out.append(batch)
        train = batch
    return out
