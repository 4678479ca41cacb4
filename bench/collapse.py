"""Print the collapse demonstration: per generation, under replace and accumulate.

    .venv/bin/python bench/collapse.py [--generations 5]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from anchormix.demo.collapse import run_collapse  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generations", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="anchormix-collapse-"))
    print(f"{'policy':<11}{'gen':>4}{'n':>6}{'vendi':>9}{'ratio':>8}{'tail':>7}{'js_base':>9}{'human':>7}  verdict")
    for mode in ("replace", "accumulate"):
        for gen, r in sorted(run_collapse(root / mode, mode, args.generations).items()):
            rep = r["candidate"]["report"]
            shares = r["candidate"]["shares"]
            failed = [g for g, o in r["gates"].items() if not o.passed]
            verdict = "published" if r["published"] else "BLOCKED by " + ", ".join(failed)
            print(f"{mode:<11}{gen:>4}{r['candidate']['n_records']:>6}{rep.get('vendi', 0):>9.2f}"
                  f"{rep.get('vendi_ratio', 0):>8.3f}{rep.get('tail_coverage', 0):>7.2f}"
                  f"{rep.get('js_baseline', 0):>9.3f}{shares.get('human', 0):>7.2f}  {verdict}")


if __name__ == "__main__":
    main()
