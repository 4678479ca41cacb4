"""Names inside the published directory, shared by the writer and the data card."""

from __future__ import annotations

import re

DATA_DIR = "data"
PLOTS_DIR = "plots"
MANIFEST = "manifest.json"
CROISSANT = "croissant.json"
CARD = "README.md"
SIGNATURE = "signature.json"  # the ed25519 signature of manifest.json, beside it
LATEST = "LATEST"
RECORD_SET = "records"
RECORD_FIELDS = ("id", "text", "source", "provenance_class", "content_hash", "drop", "url")
# The tail probe set (anchormix/publish/probe_set.py): held-out human records of the rare baseline clusters.
PROBES = "probes/probes.parquet"
PROBE_RECORD_SET = "tail_probes"
PROBE_FIELDS = RECORD_FIELDS + ("license", "cluster", "cluster_label")

_GEN_DIR = re.compile(r"^gen-(\d{6,})$")


def generation_dir_name(generation: int) -> str:
    """``gen-000003`` for generation 3 (zero-padded so names sort by number)."""
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 1:
        raise ValueError(f"generation must be an int >= 1, got {generation!r}")
    return f"gen-{generation:06d}"


def parse_generation_dir(name: str) -> int | None:
    """The generation number of a directory name, or None if it is not one."""
    m = _GEN_DIR.match(name)
    return int(m.group(1)) if m else None


def shard_name(index: int) -> str:
    """Relative path of shard ``index``: ``data/part-00000.parquet``."""
    return f"{DATA_DIR}/part-{index:05d}.parquet"


def plot_path(name: str) -> str:
    """Relative path of a plot file; ``name`` must be a bare ``*.png`` file name."""
    if "/" in name or "\\" in name or name.startswith(".") or not name.endswith(".png"):
        raise ValueError(f"plot name must be a bare .png file name, got {name!r}")
    return f"{PLOTS_DIR}/{name}"
