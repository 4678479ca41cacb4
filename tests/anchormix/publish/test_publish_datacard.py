"""The data card and history report render tables and real PNG plots."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from anchormix.publish.atomic import publish_generation
from anchormix.publish.datacard import render_data_card
from anchormix.publish.history import render_history

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def history():
    rows = []
    for gen, (human, vendi, tail) in enumerate([(1.0, 20.0, 1.0), (0.8, 18.0, 0.9), (0.7, 16.5, 0.75)]):
        rows += [
            {"generation": gen, "metric": "human_share", "value": human},
            {"generation": gen, "metric": "vendi", "value": vendi},
            {"generation": gen, "metric": "tail_coverage", "value": tail},
        ]
    return pd.DataFrame(rows)


def card_inputs():
    return dict(
        generation=3,
        terminal_counts=pd.DataFrame(
            {
                "state": ["published", "held", "filtered", "filtered", "duplicate", "quarantined"],
                "reason": ["", "mix_full", "too_short", "synthetic_cap", "exact", "bad json"],
                "count": [60, 10, 5, 3, 7, 2],
            }
        ),
        shares={"human": 0.6, "synthetic": 0.3, "unknown": 0.1},
        per_source=pd.DataFrame(
            {
                "source": ["source-a", "source-b"],
                "available": [50, 20],
                "selected": [40, 20],
                "cap": [0.7, np.nan],
                "why": ["40 of 50 selected; held: 10 mix_full", "all eligible records selected"],
            }
        ),
        metrics={"vendi": 15.2, "tail_coverage": 0.7, "lost_tail_clusters": [9], "cluster_hist": [30, 20, 9, 1]},
        metrics_history=history(),
        baseline_metrics={"vendi": 20.0, "tail_coverage": 1.0, "cluster_hist": [40, 30, 20, 10]},
        policy={"human_floor": 0.5, "synthetic_cap": 0.3, "unknown_cap": 0.1},
    )


def test_data_card_has_tables_and_links_to_every_plot():
    markdown, plots = render_data_card(**card_inputs())
    linked = set(re.findall(r"!\[[^\]]*\]\(plots/([^)]+)\)", markdown))
    assert linked == set(plots)
    assert {"provenance_shares.png", "per_source.png", "diversity.png", "filtered.png", "history.png"} <= set(plots)
    assert all(data.startswith(PNG_MAGIC) for data in plots.values())
    assert "| human | 0.6 | human_floor 0.5 |" in markdown
    assert "| filtered | too_short | 5 |" in markdown
    assert "Records in: 87 = sum of terminal states." in markdown
    # Diversity against the baseline (generation 0) and the previous generation (2).
    assert "| vendi | 15.2 | 20 | 16.5 | -1.3 |" in markdown
    assert "Rare baseline clusters without coverage: 9." in markdown


def test_data_card_publishes_with_its_plots(tmp_path, make_records):
    markdown, plots = render_data_card(**card_inputs())
    gen_dir = publish_generation(tmp_path, 1, make_records(5), manifest={}, card_markdown=markdown, plots=plots)
    for rel in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (gen_dir / "README.md").read_text()):
        assert (gen_dir / rel).read_bytes().startswith(PNG_MAGIC)


def test_history_table_and_plot():
    table, png = render_history(history())
    assert png.startswith(PNG_MAGIC)
    lines = table.splitlines()
    assert lines[0] == "| generation | human_share | vendi | tail_coverage |"
    assert lines[2] == "| baseline | 1 | 20 | 1 |"
    assert lines[-1] == "| 2 | 0.7 | 16.5 | 0.75 |"


def test_history_tolerates_missing_metrics_and_rejects_bad_frames():
    table, png = render_history(pd.DataFrame({"generation": [1], "metric": ["vendi"], "value": [3.0]}))
    assert "| 1 | — | 3 | — |" in table and png.startswith(PNG_MAGIC)
    with pytest.raises(ValueError, match="missing columns"):
        render_history(pd.DataFrame({"generation": [1]}))


def test_first_generation_card_without_history():
    markdown, plots = render_data_card(
        generation=1,
        terminal_counts={"published": 5, "held": 2},
        shares={"human": 1.0, "synthetic": 0.0, "unknown": 0.0},
        per_source=pd.DataFrame(
            {"source": ["source-a"], "available": [7], "selected": [5], "cap": [np.nan], "why": ["held: 2 mix_full"]}
        ),
        metrics={"vendi": 3.0, "js_previous": None},
        metrics_history=pd.DataFrame(columns=["generation", "metric", "value"]),
    )
    assert "| vendi | 3 | — | — | — |" in markdown
    assert "Records in: 7 = sum of terminal states." in markdown
    assert all(data.startswith(PNG_MAGIC) for data in plots.values())


def test_card_accepts_store_shapes_for_states_and_gates():
    inputs = card_inputs()
    inputs["terminal_counts"] = inputs["terminal_counts"].rename(columns={"reason": "detail", "count": "n"})
    inputs["gates"] = {"provenance_ratios": {"passed": True, "details": {"human_share": 0.6}}}
    markdown, _ = render_data_card(**inputs, drop="2026-11-02", fingerprint="fp-ABC")
    assert "Drop `2026-11-02`, candidate `fp-ABC`." in markdown
    assert "| filtered | too_short | 5 |" in markdown
    assert '| provenance_ratios | True | {"human_share": 0.6} |' in markdown


def test_card_has_the_attribution_table_and_names_the_signing_key(make_records):
    from anchormix.provenance.registry import Registry
    from anchormix.publish.attribution import attribution_table

    records = make_records(9)
    registry = Registry.model_validate({"sources": {
        "source-0": {"kind": "licensed_human_archive", "license": "CC-BY-4.0", "trust_tier": "high",
                     "rights_holder": "Holder Zero", "creator": "Zero contributors"}}})
    inputs = card_inputs()
    inputs["policy"] = {**inputs["policy"], "denied_licenses": ["CC-BY-NC*"]}
    markdown, _ = render_data_card(**inputs, attribution=attribution_table(records, registry),
                                   signing_key_id="publisher-2026", public_key_b64="AAAA")
    assert "## Licenses" in markdown
    assert "| source | license | rights holder | creator | records |" in markdown
    assert "| source-0 | `CC-BY-4.0` | Holder Zero | Zero contributors | 3 |" in markdown
    assert "| source-1 | `MIT OR Apache-2.0` | — | — | 3 |" in markdown
    assert "License policy (gate `gx_licenses`): denied: `CC-BY-NC*`." in markdown
    assert "## Verifying this generation" in markdown and "key **`publisher-2026`**" in markdown
    unsigned, _ = render_data_card(**card_inputs())
    assert "This generation is **not signed**" in unsigned
