"""Data card sections for a buyer of human data and a model team: the value of each human source, the
tail probe set and how to track tail retention with it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anchormix.publish._render import md_table
from anchormix.value import fmt_p

_METRIC_LABELS = (("vendi", "Vendi"), ("effective_rank", "eff. rank"), ("tail_coverage", "tail coverage"))


def _loss_cell(test: Mapping[str, Any] | None) -> str:
    if test is None or test.get("p_value") is None:
        return "—"
    mark = " ✔" if test.get("significant") else ""
    return f"{test['loss']:.3g} ({fmt_p(test['p_value'])}){mark}"


def value_section(report: Mapping[str, Any] | None) -> list[str]:
    """``## Value of each human source``: leave-one-source-out losses against random removals, rare clusters."""
    out = ["## Value of each human source", ""]
    sources = (report or {}).get("sources", [])
    if not sources:
        notes = "; ".join((report or {}).get("notes", [])) or "not measured for this candidate"
        return out + [f"_{notes}._", ""]
    out += [
        "What the mix loses when a source's human records are left out, beside the loss when as many human "
        f"records are left out at random ({report.get('null_draws')} draws; tail coverage exactly). p is the chance "
        f"that a random removal loses as much; ✔ marks a loss beyond random at family-wise alpha "
        f"{report.get('alpha')} (Holm over every source and metric), so a small source is not called valuable "
        "by chance. *Sole* rare clusters have no other provider in the mix.",
        "",
    ]
    rows = []
    for s in sources:
        tests = {t["metric"]: t for t in s.get("tests", [])}
        rows.append([s["source"], s["records"], f"{s['share']:.1%}", s.get("verdict", ""),
                     *[_loss_cell(tests.get(m)) for m, _ in _METRIC_LABELS],
                     ", ".join(s.get("sole_clusters", [])) or "—", ", ".join(s.get("main_clusters", [])) or "—"])
    header = ["source", "records", "share of mix", "verdict", *[f"{label} loss" for _, label in _METRIC_LABELS],
              "sole provider of", "main provider of"]
    return out + [md_table(rows, header), ""]


def probe_section(summary: Mapping[str, Any] | None) -> list[str]:
    """``## Tail probe set``: where it is, what it holds, and how to follow a model's tail with it."""
    if not summary:
        return []
    return [
        "## Tail probe set",
        "",
        f"`{summary['path']}`: {summary['records']} human records of the baseline's rare clusters, held out of "
        f"this mix and of every earlier one ({summary.get('kept_from_previous', 0)} were probes of the previous "
        "generation too). Evaluate your model on them after training on each generation: a per-cluster loss "
        "that rises from one generation to the next means that tail is being forgotten. Never train on them.",
        "",
        md_table([[r["cluster"], r["cluster_label"], r["records"]] for r in summary.get("per_cluster", [])],
                 ["cluster", "label", "probe records"]),
        "",
        f"Clusters of the pinned baseline `{summary.get('baseline_id') or 'unknown'}`; the project README shows a "
        "worked recipe for tracking tail retention across generations.",
        "",
    ]
