"""Recursive generations fed as nightly drops: replace is blocked, accumulate keeps passing.

This is the collapse demonstration of DESIGN.md on the real pipeline stages and
gates (the Dagster checks call the same gate functions). `bench/collapse.py`
prints the per-generation figures.
"""

from __future__ import annotations

import pytest

from anchormix.demo.collapse import run_collapse

GENERATIONS = 5


@pytest.mark.slow
def test_replace_is_blocked_and_accumulate_keeps_passing(tmp_path):
    replace = run_collapse(tmp_path / "replace", "replace", GENERATIONS)
    blocked = [g for g, r in replace.items() if r["published"] is None]
    assert replace[1]["published"] is not None, replace[1]["refused"]
    assert blocked, "recursive replace was never blocked"
    first = min(blocked)
    # Documented in the README: replace is blocked by generation 3 at the latest.
    assert first <= 3, f"first blocked at generation {first}"
    assert not replace[first]["gates"]["diversity_gates"].passed
    assert "diversity_gates" in replace[first]["refused"]
    assert all(replace[g]["published"] is None for g in replace if g > first), "a later generation slipped through"
    vendi = [replace[g]["candidate"]["report"]["vendi_ratio"] for g in sorted(replace)]
    assert vendi[-1] < vendi[0]

    accumulate = run_collapse(tmp_path / "accumulate", "accumulate", GENERATIONS)
    assert all(r["published"] is not None for r in accumulate.values()), {
        g: r["refused"] for g, r in accumulate.items()}
    ratios = [accumulate[g]["candidate"]["report"]["vendi_ratio"] for g in sorted(accumulate)]
    assert min(ratios) >= 0.85
