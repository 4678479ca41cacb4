"""Reading inbox files, one job per module; :mod:`anchormix.readers` is the entry point.

``regular_file``  open only regular files, never blocking on a FIFO or device
``byte_streams``  plain and gzip bytes, counting what a fault leaves unread
``line_reader``   a bounded ``readline`` over those streams (line and total caps)
``safe_text``     text safe to store in a reason or excerpt
``strict_json``   JSON that refuses what other readers would read differently
``row_checks``    what makes a parsed row unstorable beyond the schema
``raw_rows``      the ``(line, row, error)`` shape every reader yields
``jsonl_reader``, ``csv_reader``, ``parquet_reader``  one reader per format
"""
