"""One module per pipeline stage: store glue around the plain logic.

Each stage takes a DuckDB connection, the drop (partition key) and settings, and
returns a plain dict summary, so the same functions run under any Dagster
executor, in tests and from the command line.
"""
