"""The thread budget: BLAS single-threaded, OpenMP and DuckDB at the budget, the override validated."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_info

from anchormix.threads import THREADS_ENV, configure_threads, thread_budget


def test_blas_runs_single_threaded_and_openmp_at_the_budget(monkeypatch):
    import faiss  # loads its own BLAS and OpenMP runtimes, as a stage would

    monkeypatch.setenv(THREADS_ENV, "2")
    assert configure_threads() == 2
    pools = threadpool_info()
    # numpy's OpenBLAS (pthreads) runs on one thread; FAISS's OpenBLAS follows OpenMP, which has the budget.
    numpy_blas = [p for p in pools if p["user_api"] == "blas" and p.get("threading_layer") != "openmp"]
    assert numpy_blas and {p["num_threads"] for p in numpy_blas} == {1}
    assert faiss.omp_get_max_threads() == 2
    assert {p["num_threads"] for p in pools if p["user_api"] == "openmp"} == {2}


def test_a_bad_override_names_the_variable(monkeypatch):
    monkeypatch.setenv(THREADS_ENV, "zero")
    with pytest.raises(ValueError, match=THREADS_ENV):
        thread_budget()
    monkeypatch.setenv(THREADS_ENV, "0")
    with pytest.raises(ValueError, match="positive"):
        thread_budget()
    monkeypatch.delenv(THREADS_ENV)
    assert thread_budget() >= 1


def test_store_connections_take_the_budget(tmp_path, monkeypatch):
    from anchormix.store import connect_store

    monkeypatch.setenv(THREADS_ENV, "1")
    con = connect_store(tmp_path / "s.duckdb")
    assert con.execute("SELECT current_setting('threads')").fetchone()[0] == 1
