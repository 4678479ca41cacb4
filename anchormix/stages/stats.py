"""Uniform stage statistics: rows in and out, CPU-seconds, wall-seconds and peak RSS.

CPU-seconds are the process's (every thread, BLAS and DuckDB workers included),
so they stay comparable on a shared machine where wall time is noisy. Peak RSS
is sampled from ``/proc/self/statm`` every 20 ms while the stage runs (the
kernel's own high-water mark never goes down, so it cannot give a stage its own
peak); on systems without ``/proc`` it falls back to that high-water mark.
"""

from __future__ import annotations

import logging
import os
import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

log = logging.getLogger("anchormix.stages")

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss_bytes() -> int:
    """Resident set size of this process now (0 where unknown)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _high_water_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


@dataclass
class StageStats:
    """What one stage cost on one drop."""

    stage: str
    rows_in: int = 0
    rows_out: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    peak_rss_mb: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def docs_per_cpu_s(self) -> float:
        """Input rows per CPU-second (inf for a stage too quick to measure)."""
        return self.rows_in / self.cpu_s if self.cpu_s > 0 else float("inf")

    def as_metadata(self) -> dict:
        """Numeric figures for Dagster asset metadata (plotted per partition)."""
        return {"stage_rows_in": int(self.rows_in), "stage_rows_out": int(self.rows_out),
                "stage_cpu_s": round(self.cpu_s, 3), "stage_wall_s": round(self.wall_s, 3),
                "stage_peak_rss_mb": round(self.peak_rss_mb, 1)}

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        """One log line."""
        rate = f"{self.docs_per_cpu_s:,.0f} rows/CPU-s" if self.cpu_s > 0 else "-"
        return (f"stage {self.stage}: {self.rows_in:,} in, {self.rows_out:,} out, {self.cpu_s:.2f} CPU-s, "
                f"{self.wall_s:.2f} s wall, peak RSS {self.peak_rss_mb:,.0f} MB ({rate})")


class _RssSampler(threading.Thread):
    def __init__(self, interval: float = 0.02):
        super().__init__(daemon=True, name="anchormix-rss")
        self.interval, self.peak, self._done = interval, current_rss_bytes(), threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self.peak = max(self.peak, current_rss_bytes())

    def stop(self) -> int:
        self._done.set()
        self.join()
        return max(self.peak, current_rss_bytes())


@contextmanager
def measured(stage: str, logger: logging.Logger | None = None) -> Iterator[StageStats]:
    """Measure the ``with`` body as stage ``stage``; the caller fills ``rows_in`` / ``rows_out``.

    The finished figures are logged as one line (to ``logger``, default the
    ``anchormix.stages`` logger).
    """
    stats = StageStats(stage)
    sampler = _RssSampler() if current_rss_bytes() else None
    if sampler:
        sampler.start()
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        yield stats
    finally:
        stats.cpu_s = time.process_time() - cpu
        stats.wall_s = time.perf_counter() - wall
        peak = sampler.stop() if sampler else _high_water_bytes()
        stats.peak_rss_mb = peak / 2**20
        (logger or log).info(stats.line())


class Progress:
    """Progress lines for a long stage: at most one every ``every_s`` seconds, with rate and ETA."""

    def __init__(self, stage: str, total: int, logger: logging.Logger | None = None, every_s: float = 10.0):
        self.stage, self.total, self.logger, self.every_s = stage, total, logger or log, every_s
        self.started = self.last = time.perf_counter()

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if now - self.last < self.every_s or done >= self.total:
            return
        self.last = now
        rate = done / (now - self.started) if now > self.started else 0.0
        eta = (self.total - done) / rate if rate > 0 else float("nan")
        self.logger.info(f"stage {self.stage}: {done:,}/{self.total:,} ({done / self.total:.0%}), "
                         f"{rate:,.0f}/s, about {eta:,.0f} s left")
