"""The data card (README.md) of a published generation, with its PNG plots.

The card answers what a user of the mix asks first: how much of it is human,
where it came from, whether it kept the baseline's diversity and tails
compared with earlier generations, and what was left out and why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from anchormix.publish._render import fig_to_png, fmt, frame_table, md_table, new_figure
from anchormix.publish.card_trust import license_section, verification_section
from anchormix.publish.card_sections import probe_section, value_section
from anchormix.publish.history import BASELINE_GENERATION, history_frame, render_history
from anchormix.publish.layout import CROISSANT, DATA_DIR, MANIFEST, plot_path

SHARES_PNG = "provenance_shares.png"
SOURCES_PNG = "per_source.png"
DIVERSITY_PNG = "diversity.png"
CLUSTERS_PNG = "cluster_histogram.png"
FILTERED_PNG = "filtered.png"
HISTORY_PNG = "history.png"

# Scalar diversity metrics worth a panel, in display order; others still go in the table.
DIVERSITY_PANELS = ("vendi", "vendi_ratio", "effective_rank", "cluster_entropy", "tail_coverage", "js_baseline")
_GROUP_COLORS = {"human": "#2a9d8f", "synthetic": "#e76f51", "unknown": "#8d99ae"}


def _scalar_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, Real) and not isinstance(v, bool) and np.isfinite(float(v))
    }


def _shares_plot(shares: Mapping[str, float], policy: Mapping[str, Any] | None) -> bytes:
    fig = new_figure(6, 3.5)
    ax = fig.subplots()
    groups = ["human", "synthetic", "unknown"]
    values = [float(shares.get(g, 0.0)) for g in groups]
    ax.bar(groups, values, color=[_GROUP_COLORS[g] for g in groups])
    limits = {"human": "human_floor", "synthetic": "synthetic_cap", "unknown": "unknown_cap"}
    for i, g in enumerate(groups):
        if policy and limits[g] in policy:
            kind = "floor" if g == "human" else "cap"
            ax.hlines(policy[limits[g]], i - 0.4, i + 0.4, colors="black", linestyles="--")
            ax.annotate(f"{kind} {policy[limits[g]]:g}", (i, policy[limits[g]]), textcoords="offset points",
                        xytext=(0, 3), ha="center", fontsize="small")
        ax.annotate(f"{values[i]:.1%}", (i, values[i] / 2), ha="center", color="white", fontweight="bold")
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of mix")
    ax.set_title("Provenance shares")
    return fig_to_png(fig)


def _sources_plot(per_source: pd.DataFrame) -> bytes:
    fig = new_figure(7, max(2.5, 0.35 * len(per_source) + 1.2))
    ax = fig.subplots()
    y = np.arange(len(per_source))
    ax.barh(y, per_source["available"], color="#d9d9d9", label="eligible")
    ax.barh(y, per_source["selected"], color="#264653", label="selected")
    ax.set_yticks(y, per_source["source"].astype(str))
    ax.invert_yaxis()
    ax.set_xlabel("records")
    ax.set_title("Records per source")
    ax.legend(loc="lower right", fontsize="small")
    return fig_to_png(fig)


def _diversity_plot(
    generation: int, current: dict[str, float], baseline: dict[str, float], wide: pd.DataFrame
) -> bytes | None:
    panels = [m for m in DIVERSITY_PANELS if m in current] or sorted(current)[:6]
    if not panels:
        return None
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig = new_figure(4 * cols, 3 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, metric in zip(axes, panels):
        earlier = wide[(wide.index != BASELINE_GENERATION) & (wide.index < generation)]
        series = earlier[metric].dropna() if metric in earlier.columns else pd.Series(dtype=float)
        xs = [int(g) for g in series.index] + [generation]
        ys = list(series.to_numpy()) + [current[metric]]
        ax.plot(xs, ys, marker="o", color="#264653")
        ax.plot([generation], [current[metric]], marker="o", markersize=10, color="#e76f51", label="this generation")
        if metric in baseline:
            ax.axhline(baseline[metric], linestyle="--", color="gray", label="baseline")
        ax.set_title(metric)
        ax.set_xlabel("generation")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize="x-small")
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    return fig_to_png(fig)


def _cluster_plot(current: Sequence[float], baseline: Sequence[float]) -> bytes:
    cur = np.asarray(current, dtype=float)
    base = np.asarray(baseline, dtype=float)
    k = max(len(cur), len(base))
    cur = np.pad(cur, (0, k - len(cur)))
    base = np.pad(base, (0, k - len(base)))
    # Sorted by baseline share so the tail (rarest clusters) sits on the right.
    order = np.argsort(-base, kind="stable")
    fig = new_figure(max(6, 0.3 * k + 2), 3.5)
    ax = fig.subplots()
    x = np.arange(k)
    ax.bar(x - 0.2, base[order] / max(base.sum(), 1), width=0.4, color="gray", label="baseline")
    ax.bar(x + 0.2, cur[order] / max(cur.sum(), 1), width=0.4, color="#2a9d8f", label="this generation")
    ax.set_xticks(x, [str(c) for c in order], fontsize="x-small")
    ax.set_xlabel("baseline cluster (most to least common)")
    ax.set_ylabel("share")
    ax.set_title("Cluster histogram against the baseline")
    ax.legend(fontsize="small")
    return fig_to_png(fig)


def _filtered_plot(terminal: pd.DataFrame) -> bytes:
    labels = [s if not r else f"{s}: {r}" for s, r in zip(terminal["state"], terminal["reason"])]
    fig = new_figure(7, max(2.5, 0.35 * len(terminal) + 1.2))
    ax = fig.subplots()
    y = np.arange(len(terminal))
    ax.barh(y, terminal["count"], color="#8d99ae")
    ax.set_yticks(y, labels, fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel("records")
    ax.set_title("Where every ingested record ended up")
    return fig_to_png(fig)


def _terminal_frame(terminal_counts: pd.DataFrame | Mapping[str, int]) -> pd.DataFrame:
    if isinstance(terminal_counts, Mapping):
        terminal = pd.DataFrame({"state": list(terminal_counts), "reason": "", "count": list(terminal_counts.values())})
    else:
        # The store's record_states table names these detail / n.
        terminal = terminal_counts.rename(columns={"detail": "reason", "n": "count"})
        if "reason" not in terminal.columns:
            terminal["reason"] = ""
        missing = {"state", "count"} - set(terminal.columns)
        if missing:
            raise ValueError(f"terminal_counts is missing columns: {sorted(missing)}")
    terminal["reason"] = terminal["reason"].fillna("").astype(str)
    terminal["count"] = terminal["count"].astype(int)
    return terminal[["state", "reason", "count"]].sort_values(["state", "count"], ascending=[True, False])


def _gates_frame(gates: pd.DataFrame | Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    if isinstance(gates, pd.DataFrame):
        return gates
    rows = []
    for gate, verdict in gates.items():
        details = verdict.get("details")
        text = json.dumps(details, default=str, sort_keys=True) if details is not None else ""
        rows.append({"gate": gate, "passed": bool(verdict.get("passed")), "details": text[:160]})
    return pd.DataFrame(rows, columns=["gate", "passed", "details"])


def render_data_card(
    *,
    generation: int,
    terminal_counts: pd.DataFrame | Mapping[str, int],
    shares: Mapping[str, float],
    per_source: pd.DataFrame,
    metrics: Mapping[str, Any],
    metrics_history: pd.DataFrame,
    baseline_metrics: Mapping[str, Any] | None = None,
    policy: Mapping[str, Any] | None = None,
    name: str = "anchormix-mix",
    n_records: int | None = None,
    gates: pd.DataFrame | Mapping[str, Mapping[str, Any]] | None = None,
    drop: str | None = None,
    fingerprint: str | None = None,
    notes: Sequence[str] = (),
    diversity_tests: Sequence[Mapping[str, Any]] = (),
    attribution: pd.DataFrame | None = None,
    signing_key_id: str | None = None,
    public_key_b64: str | None = None,
    value: Mapping[str, Any] | None = None,
    probes: Mapping[str, Any] | None = None,
) -> tuple[str, dict[str, bytes]]:
    """Render the data card of generation ``generation``: ``(markdown, {png name: bytes})``.

    ``terminal_counts``: ``[state, reason, count]`` (reason may be empty; the
    store's ``detail`` / ``n`` names are accepted) or a ``{state: count}`` mapping. ``shares``: human / synthetic / unknown.
    ``per_source``: ``[source, available, selected, cap, why]`` (as from
    :func:`anchormix.mix.sample_mix`). ``metrics``: this generation's
    diversity report (non-numeric values are skipped in plots).
    ``metrics_history``: ``[generation, metric, value]`` of earlier
    generations (generation 0 = baseline); rows of this generation are ignored
    in favour of ``metrics``. ``baseline_metrics`` overrides generation 0 of the
    history. ``policy``: :meth:`MixPolicy.to_dict`, drawn as floor/cap lines.
    ``diversity_tests``: the calibrated gate's rows (``anchormix.diversity_gate.GateRow`` as dicts), shown
    beside healthy samples of the same size, clusters by name.
    ``gates``: optional verdicts, a ``[gate, passed, ...]`` frame or
    ``{gate: {"passed", "details"}}``. ``drop`` and ``fingerprint`` identify the
    candidate in the card's header. ``attribution``
    (:func:`anchormix.publish.attribution.attribution_table`) is the Licenses
    section; ``signing_key_id`` names the key that signs the manifest (None:
    the card says the generation is unsigned). ``value``: the stored value report of the
    human sources (:func:`anchormix.value.source_values`); ``probes``: the
    probe set's summary (path, records, per_cluster rows of cluster,
    cluster_label, records), None when there is none. The markdown links to
    plots by relative path (``plots/<name>``), so write the plots there.
    """
    terminal = _terminal_frame(terminal_counts)
    wide = history_frame(metrics_history) if len(metrics_history) else pd.DataFrame()
    current = _scalar_metrics(metrics)
    baseline = _scalar_metrics(baseline_metrics or {})
    if not baseline and BASELINE_GENERATION in wide.index:
        baseline = {k: float(v) for k, v in wide.loc[BASELINE_GENERATION].dropna().items()}
    earlier = wide[(wide.index != BASELINE_GENERATION) & (wide.index < generation)] if len(wide) else wide
    previous = earlier.iloc[-1].dropna().to_dict() if len(earlier) else {}
    previous_gen = int(earlier.index[-1]) if len(earlier) else None

    plots: dict[str, bytes] = {
        SHARES_PNG: _shares_plot(shares, policy),
        SOURCES_PNG: _sources_plot(per_source),
        FILTERED_PNG: _filtered_plot(terminal),
    }
    diversity_png = _diversity_plot(generation, current, baseline, wide)
    if diversity_png is not None:
        plots[DIVERSITY_PNG] = diversity_png
    base_hist = (baseline_metrics or {}).get("cluster_hist")
    if metrics.get("cluster_hist") is not None and base_hist is not None:
        plots[CLUSTERS_PNG] = _cluster_plot(metrics["cluster_hist"], base_hist)

    history_rows = metrics_history[metrics_history["generation"] != generation] if len(metrics_history) else metrics_history
    this_gen = pd.DataFrame(
        [{"generation": generation, "metric": k, "value": v} for k, v in current.items()]
        + [{"generation": generation, "metric": f"{g}_share", "value": float(s)} for g, s in shares.items()]
    )
    history_md, plots[HISTORY_PNG] = render_history(
        pd.concat([history_rows, this_gen], ignore_index=True) if len(history_rows) else this_gen
    )

    selected_total = int(per_source["selected"].sum()) if "selected" in per_source else None
    n = n_records if n_records is not None else selected_total
    out: list[str] = [f"# {name} — generation {generation}", ""]
    ident = ", ".join(i for i in (f"drop `{drop}`" if drop else "", f"candidate `{fingerprint}`" if fingerprint else "") if i)
    if ident:
        out += [ident[0].upper() + ident[1:] + ".", ""]
    out += [
        f"{fmt(n)} records. Human share {shares.get('human', 0.0):.1%}, synthetic "
        f"{shares.get('synthetic', 0.0):.1%}, unknown {shares.get('unknown', 0.0):.1%}.",
        "",
        f"Files: `{DATA_DIR}/*.parquet` (records), `{MANIFEST}` (per-record id, content hash, source and "
        f"provenance class), `{CROISSANT}` (Croissant 1.0 metadata)"
        + (f", `{probes['path']}` (held-out tail probes, never in the mix)." if probes else "."),
        "",
    ]
    if notes:
        out += ["## Notes", ""] + [f"- {note}" for note in notes] + [""]

    out += ["## Provenance", ""]
    limit_of = {"human": "human_floor", "synthetic": "synthetic_cap", "unknown": "unknown_cap"}
    share_rows = []
    for g in ("human", "synthetic", "unknown"):
        limit_key = limit_of[g]
        limit = policy.get(limit_key) if policy else None
        share_rows.append([g, float(shares.get(g, 0.0)), f"{limit_key} {limit:g}" if limit is not None else "—"])
    out += [md_table(share_rows, ["class", "share", "policy"]), "", f"![Provenance shares]({plot_path(SHARES_PNG)})", ""]
    if policy:
        out += ["Mix policy: " + ", ".join(f"`{k}={v}`" for k, v in policy.items()), ""]

    out += ["## Sources", ""]
    source_cols = [c for c in ("source", "available", "selected", "cap", "why") if c in per_source.columns]
    out += [frame_table(per_source[source_cols]), "", f"![Records per source]({plot_path(SOURCES_PNG)})", ""]
    out += license_section(attribution, policy)
    if value is not None:
        out += value_section(value)

    out += ["## Diversity", ""]
    if current:
        div_rows = []
        for metric, value in current.items():
            prev = previous.get(metric)
            div_rows.append([metric, value, baseline.get(metric), prev, value - prev if prev is not None else None])
        prev_label = f"generation {previous_gen}" if previous_gen is not None else "previous"
        out += [md_table(div_rows, ["metric", "this generation", "baseline", prev_label, "change"]), ""]
    else:
        out += ["_No diversity metrics were given._", ""]
    if diversity_tests:
        out += ["Each test against healthy human samples of the same size (one-sided p-value, Holm level):", ""]
        out += [md_table([[r["gate"], r.get("observed"), r.get("null_median"), r.get("band_lo"), r.get("band_hi"),
                           r.get("p_value"), "ok" if r.get("passed") else "BLOCKS"] for r in diversity_tests],
                         ["test", "this generation", "healthy median", "band low", "band high", "p", "verdict"]), ""]
    elif lost := metrics.get("lost_tail_clusters"):
        out += [f"Rare baseline clusters without coverage: {', '.join(str(c) for c in lost)}.", ""]
    if DIVERSITY_PNG in plots:
        out += [f"![Diversity against baseline and earlier generations]({plot_path(DIVERSITY_PNG)})", ""]
    if CLUSTERS_PNG in plots:
        out += [f"![Cluster histogram]({plot_path(CLUSTERS_PNG)})", ""]

    if probes:
        out += probe_section(probes)

    if gates is not None and len(gates):
        out += ["## Gates", "", frame_table(_gates_frame(gates)), ""]

    out += ["## What was left out and why", ""]
    total = int(terminal["count"].sum())
    out += [
        md_table([[s, r or "—", c] for s, r, c in terminal.itertuples(index=False, name=None)], ["state", "reason", "count"]),
        "",
        f"Records in: {total} = sum of terminal states.",
        "",
        f"![Terminal states]({plot_path(FILTERED_PNG)})",
        "",
    ]
    out += ["## Generation history", "", history_md, "", f"![Generation history]({plot_path(HISTORY_PNG)})", ""]
    out += verification_section(signing_key_id, public_key_b64)
    return "\n".join(out), plots
