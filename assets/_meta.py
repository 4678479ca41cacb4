"""Metadata helpers shared by the asset modules."""

from collections.abc import Mapping, Sequence

import pandas as pd
from dagster import MetadataValue, TableColumn, TableSchema

OWNERS = ["team:data-curation"]


def schema(columns: Sequence[tuple[str, str, str]]) -> TableSchema:
    """A column schema for asset metadata: (name, type, description)."""
    return TableSchema(columns=[TableColumn(name, kind, description=desc) for name, kind, desc in columns])


def md_table(frame: pd.DataFrame, max_rows: int = 20, max_chars: int = 80) -> MetadataValue:
    """A markdown preview of a frame, long cells shortened."""
    if frame is None or frame.empty:
        return MetadataValue.md("_(no rows)_")
    shown = frame.head(max_rows).copy()
    for column in shown.columns:
        shown[column] = shown[column].map(
            lambda v: (str(v)[:max_chars] + "…") if len(str(v)) > max_chars else str(v)
        ).str.replace("|", "\\|").str.replace("\n", " ")
    header = "| " + " | ".join(map(str, shown.columns)) + " |"
    rule = "|" + "---|" * len(shown.columns)
    rows = ["| " + " | ".join(row) + " |" for row in shown.astype(str).itertuples(index=False)]
    more = f"\n\n_{len(frame) - max_rows} more rows_" if len(frame) > max_rows else ""
    return MetadataValue.md("\n".join([header, rule, *rows]) + more)


def md_counts(counts: Mapping, key: str = "key", value: str = "count") -> MetadataValue:
    """A two-column markdown table from a mapping."""
    return md_table(pd.DataFrame(sorted(counts.items()), columns=[key, value]))
