"""One deliberate thread budget for BLAS, OpenMP (FAISS), torch and DuckDB.

Left alone, each library starts one thread per core, and a FAISS k-means or a
Gram matrix in numpy then contends with DuckDB's workers and torch's pool: on a
2-core machine that cost more CPU-seconds than it saved. Every entry point (the
runner, the Dagster definitions, the CLI) calls :func:`configure_threads` once.
``ANCHORMIX_THREADS`` overrides the budget (default: the CPUs this process may
use).
"""

from __future__ import annotations

import os

THREADS_ENV = "ANCHORMIX_THREADS"
_configured: int | None = None


def thread_budget() -> int:
    """``$ANCHORMIX_THREADS`` if set (>= 1), else the CPUs in this process's affinity mask."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{THREADS_ENV} must be a positive integer, got {raw!r}") from None
        if value < 1:
            raise ValueError(f"{THREADS_ENV} must be a positive integer, got {raw!r}")
        return value
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def configure_threads(n: int | None = None) -> int:
    """Cap BLAS/OpenMP (threadpoolctl), FAISS and torch at ``n`` threads (default :func:`thread_budget`).

    Idempotent; returns the budget. DuckDB connections take it through
    :func:`duckdb_threads` (``SET threads``).
    """
    global _configured
    n = n or thread_budget()
    import sys

    torch = sys.modules.get("torch")  # importing torch only to configure it would cost a second
    if torch is not None and torch.get_num_threads() != n:
        torch.set_num_threads(n)
    if _configured == n:
        return n
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n)
    try:
        import faiss

        faiss.omp_set_num_threads(n)
    except ImportError:  # pragma: no cover - faiss is a dependency
        pass
    _configured = n
    return n


def duckdb_threads() -> int:
    """The thread count DuckDB connections are given."""
    return _configured or thread_budget()
