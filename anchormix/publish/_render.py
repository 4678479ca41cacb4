"""Rendering helpers shared by the data card and the history report."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def new_figure(width: float = 7.0, height: float = 4.0) -> Figure:
    """A Figure on the Agg canvas; pyplot is avoided so no global state or GUI backend is touched."""
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def fig_to_png(fig: Figure) -> bytes:
    """PNG bytes of ``fig``; no timestamp metadata, so the same figure gives the same bytes."""
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def fmt(value: Any) -> str:
    """A table cell: floats to 4 significant digits, missing values as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:.4g}"
    return str(value)


def md_table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""

    def cell(v: Any) -> str:
        return fmt(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def frame_table(df: pd.DataFrame) -> str:
    """``md_table`` of a DataFrame's rows (index dropped)."""
    return md_table([list(r) for r in df.itertuples(index=False, name=None)], [str(c) for c in df.columns])
