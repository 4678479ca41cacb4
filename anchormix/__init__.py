"""anchormix: keep ML training corpora anchored to human data.

Plain, Dagster-free logic lives here so it can be tested directly and run under
any executor. The Dagster wiring lives in the top-level ``assets``, ``checks``
and ``pipelines`` packages.
"""

__version__ = "0.1.0"
