"""The generation-history report: how the mix's anchoring evolves across generations."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from anchormix.publish._render import fig_to_png, md_table, new_figure

HISTORY_METRICS = ("human_share", "vendi", "tail_coverage")
# Shown in the table when present; the plot keeps to HISTORY_METRICS so it stays readable.
TABLE_EXTRAS = ("n", "vendi_ratio", "js_baseline", "js_previous")
BASELINE_GENERATION = 0


def history_frame(metrics_history: pd.DataFrame) -> pd.DataFrame:
    """Pivot ``[generation, metric, value]`` to one row per generation (last value wins)."""
    missing = {"generation", "metric", "value"} - set(metrics_history.columns)
    if missing:
        raise ValueError(f"metrics_history is missing columns: {sorted(missing)}")
    df = metrics_history[["generation", "metric", "value"]].copy()
    df["value"] = pd.to_numeric(df["value"], errors="coerce")
    df = df.drop_duplicates(["generation", "metric"], keep="last")
    return df.pivot(index="generation", columns="metric", values="value").sort_index()


def render_history(
    metrics_history: pd.DataFrame, metrics: Sequence[str] = HISTORY_METRICS
) -> tuple[str, bytes]:
    """Markdown table and PNG of ``metrics`` (default human share, Vendi, tail coverage) per generation.

    ``metrics_history``: ``[generation, metric, value]`` rows, as stored in the
    ``metrics_history`` table. Generation 0, if present, is the pinned human
    baseline and is labelled so; it is drawn as a dashed reference line.
    """
    wide = history_frame(metrics_history)
    columns = list(metrics) + [m for m in TABLE_EXTRAS if m in wide.columns and m not in metrics]
    rows = []
    for generation, row in wide.iterrows():
        label = "baseline" if generation == BASELINE_GENERATION else str(int(generation))
        rows.append([label] + [row.get(m, np.nan) for m in columns])
    table = md_table(rows, ["generation"] + columns) if rows else "_No generations yet._"

    fig = new_figure(width=4.0 * len(metrics), height=3.4)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    gens = wide[wide.index != BASELINE_GENERATION]
    for ax, metric in zip(axes, metrics):
        ax.set_title(metric)
        ax.set_xlabel("generation")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if metric in gens.columns and gens[metric].notna().any():
            series = gens[metric].dropna()
            ax.plot(series.index.astype(int), series.to_numpy(), marker="o")
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        if metric in wide.columns and BASELINE_GENERATION in wide.index:
            base = wide.loc[BASELINE_GENERATION, metric]
            if pd.notna(base):
                ax.axhline(base, linestyle="--", color="gray", label="baseline")
                ax.legend(loc="best", fontsize="small")
        ax.grid(alpha=0.3)
    return table, fig_to_png(fig)
