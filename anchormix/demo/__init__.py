"""Demo data built from real text on this machine (never hand-written)."""
