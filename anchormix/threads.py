"""One deliberate thread budget for BLAS, OpenMP (FAISS, torch) and DuckDB.

BLAS runs single-threaded. The matrices it sees here are small (d x d Gram
matrices, d = 384), and a threaded OpenBLAS turned out to be a trap: on this
2-core machine with another busy process, ``eigvalsh`` of a 384 x 384 matrix
took 1.5 CPU-s with two OpenBLAS threads and 0.015 with one (100x), which made
the gate calibration's 200 null draws cost 25-65 CPU-s instead of 3. Parallel
work goes to the libraries that use it well: FAISS (k-means, search) and torch
(encoding) through OpenMP, and DuckDB, each capped at the budget.

``ANCHORMIX_THREADS`` sets the budget (default: the CPUs this process may use).
:func:`configure_threads` runs when a store connection opens and again before
each stage, because FAISS and torch load their own BLAS and OpenMP runtimes
later than the first call.
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
    """BLAS at one thread, OpenMP (FAISS, torch) at ``n`` (default :func:`thread_budget`); returns ``n``.

    Cheap enough to call before every stage (a few milliseconds): it applies to
    every BLAS and OpenMP runtime loaded so far. DuckDB connections take the
    budget through :func:`duckdb_threads` (``SET threads``).
    """
    global _configured
    n = n or thread_budget()
    import sys

    from threadpoolctl import threadpool_limits

    # BLAS first, then OpenMP: setting the OpenBLAS that FAISS ships (built on OpenMP) to one thread
    # sets OpenMP's count too, so OpenMP is raised back to the budget after it.
    threadpool_limits(limits=1, user_api="blas")
    threadpool_limits(limits=n, user_api="openmp")
    torch = sys.modules.get("torch")  # importing torch only to configure it would cost a second
    if torch is not None and torch.get_num_threads() != n:
        torch.set_num_threads(n)
    faiss = sys.modules.get("faiss")
    if faiss is not None:
        faiss.omp_set_num_threads(n)
    _configured = n
    return n


def duckdb_threads() -> int:
    """The thread count DuckDB connections are given."""
    return _configured or thread_budget()
