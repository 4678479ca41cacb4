"""Gzip bombs against ingest: peak memory and time, each in a fresh process.

    .venv/bin/python bench/ingest_bombs.py

Two bombs from the issue, at the default [ingest] caps (max_line_bytes 800 kB,
max_decompressed_bytes 1 GiB):

* about 1 MB of gzip that expands to one 1 GiB line;
* about 2 MB of gzip that expands to 2 GiB of newlines.

Each is ingested into a fresh DuckDB store by a child process, which reports
its CPU-seconds and peak RSS (``ru_maxrss``) and what was quarantined.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from anchormix.readers import IngestSettings
from anchormix.stages.ingest import ingest_drop
from anchormix.store import connect_store, init_schema
root = Path(sys.argv[1])
t = time.process_time()
with connect_store(root / "store.duckdb") as con:
    init_schema(con)
    report = ingest_drop(con, root / "inbox", "2026-11-01", IngestSettings())
    reasons = [r[0] for r in con.execute("SELECT reason FROM quarantine").fetchall()]
print(json.dumps({"cpu_s": time.process_time() - t, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "loaded": report.loaded, "reasons": reasons}))
"""


def gzip_of(chunk: bytes, total: int, path: Path) -> int:
    """Stream ``total`` bytes of repeated ``chunk`` through gzip into ``path``; returns the file size."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    with path.open("wb") as fh:
        left = total
        while left > 0:
            piece = chunk[: min(len(chunk), left)]
            fh.write(comp.compress(piece))
            left -= len(piece)
        fh.write(comp.flush())
    return path.stat().st_size


def main() -> None:
    bombs = {"one 1 GiB line": (b"a" * (1 << 20), 1 << 30), "2 GiB of newlines": (b"\n" * (1 << 20), 2 << 30)}
    print(f"{'bomb':<20}{'gzip MB':>9}{'CPU-s':>8}{'peak RSS MB':>13}  quarantined")
    for name, (chunk, total) in bombs.items():
        root = Path(tempfile.mkdtemp(prefix="bomb-"))
        folder = root / "inbox" / "2026-11-01"
        folder.mkdir(parents=True)
        size = gzip_of(chunk, total, folder / "bomb.jsonl.gz")
        out = subprocess.run([sys.executable, "-c", CHILD, str(root)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        reasons = ", ".join(x.split(":")[0] for x in r["reasons"])
        print(f"{name:<20}{size / 1e6:>9.1f}{r['cpu_s']:>8.1f}{r['peak_rss_mb']:>13.0f}  {reasons}")


if __name__ == "__main__":
    main()
