"""MinHash signing: one datasketch ``MinHash`` per text against the batch signer, on the same real texts.

Texts: ``--n`` docstrings of the standard library and installed packages
(:func:`_corpus.source_docstrings`, shuffled with a fixed seed), normalized as
the pipeline does. Both signers are run ``--repeats`` times; the best CPU-s of
each is printed, with docs/CPU-s, and every signature is checked to be equal bit
for bit. CPU-s of one process on a shared machine: the best of a few runs is the
figure that means something.

    .venv/bin/python bench/minhash_signatures.py [--n 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import numpy as np

    import _corpus
    from anchormix.dedup.near import NearDedupSettings, _permutations, signature, signature_matrix
    from anchormix.normalize import normalize_text

    texts = _corpus.source_docstrings()
    random.Random(0).shuffle(texts)
    texts = [normalize_text(t) for t in texts[: args.n]]
    settings = NearDedupSettings()
    perms = _permutations(settings.num_perm)
    best = {"datasketch MinHash per text": float("inf"), "signature_matrix (batch)": float("inf")}
    for _ in range(args.repeats):
        c = time.process_time()
        one = [signature(t, settings, perms) for t in texts]
        best["datasketch MinHash per text"] = min(best["datasketch MinHash per text"], time.process_time() - c)
        c = time.process_time()
        matrix, has_words = signature_matrix(texts, settings)
        best["signature_matrix (batch)"] = min(best["signature_matrix (batch)"], time.process_time() - c)
    same = all((m is None) == (not keep) and (m is None or np.array_equal(m.hashvalues.astype(np.uint64), row))
               for m, row, keep in zip(one, matrix, has_words))
    words = sum(len(t.split()) for t in texts)
    print(f"{len(texts):,} texts ({words / len(texts):.0f} words each on average), num_perm={settings.num_perm}, "
          f"shingle_size={settings.shingle_size}; best of {args.repeats}")
    print("| signer | CPU-s | docs/CPU-s |")
    print("|---|---|---|")
    for name, cpu in best.items():
        print(f"| {name} | {cpu:.2f} | {len(texts) / cpu:,.0f} |")
    print(f"bit-identical: {same}; speed-up {best['datasketch MinHash per text'] / best['signature_matrix (batch)']:.2f}x")
    if not same:
        raise SystemExit("signatures differ")


if __name__ == "__main__":
    main()
