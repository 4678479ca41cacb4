"""Print the collapse demonstration: per generation, under replace and accumulate.

    .venv/bin/python bench/collapse.py [--generations 5]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from anchormix.demo.collapse import run_collapse  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generations", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="anchormix-collapse-"))
    print(f"{'policy':<11}{'gen':>4}{'n':>6}{'vendi':>8}{'matched':>8}{'p_vendi':>9}{'p_cover':>9}{'p_shift':>9}"
          f"{'human':>7}  verdict")
    for mode in ("replace", "accumulate"):
        for gen, r in sorted(run_collapse(root / mode, mode, args.generations).items()):
            rep = r["candidate"]["report"]
            p = {row["gate"]: row["p_value"] for row in r["candidate"]["verdict"].get("rows", [])}
            shares = r["candidate"]["shares"]
            failed = [g for g, o in r["gates"].items() if not o.passed]
            blocking = sorted({row["gate"].split(" ")[0] for row in r["candidate"]["verdict"].get("rows", [])
                               if not row["passed"]})
            verdict = "published" if r["published"] else "BLOCKED by " + ", ".join(failed) + f" ({', '.join(blocking)})"
            print(f"{mode:<11}{gen:>4}{r['candidate']['n_records']:>6}{rep.get('vendi', 0):>8.1f}"
                  f"{rep.get('vendi_ratio_matched') or 0:>8.3f}{p.get('vendi', 1):>9.1e}{p.get('knn_coverage', 1):>9.1e}"
                  f"{p.get('js_baseline', 1):>9.1e}{shares.get('human', 0):>7.2f}  {verdict}")

if __name__ == "__main__":
    main()
