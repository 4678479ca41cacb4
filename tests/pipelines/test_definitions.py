"""The Definitions load, and the asset graph matches its snapshot.

Regenerate the snapshot after a deliberate graph change with
`ANCHORMIX_UPDATE_SNAPSHOT=1 pytest tests/pipelines/test_definitions.py`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SNAPSHOT = Path(__file__).with_name("asset_graph.json")


def graph_snapshot() -> dict:
    from pipelines.definitions import defs

    repo = defs.get_repository_def()
    graph = repo.asset_graph
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "partitioned": node.partitions_def is not None,
            "kinds": sorted(node.kinds),
            "has_description": bool(node.description),
        }
    checks = {}
    for check_key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        spec = graph.get_check_spec(check_key)
        checks[f"{check_key.asset_key.to_user_string()}:{check_key.name}"] = {
            "blocking": bool(spec.blocking), "has_description": bool(spec.description)}
    return {"assets": assets, "checks": checks,
            "jobs": sorted(j.name for j in repo.get_all_jobs() if not j.name.startswith("__")),
            "schedules": sorted(s.name for s in repo.schedule_defs),
            "sensors": sorted(s.name for s in repo.sensor_defs)}


def test_definitions_load_and_match_the_snapshot():
    snapshot = graph_snapshot()
    if os.environ.get("ANCHORMIX_UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(snapshot, indent=2, sort_keys=True) + "\n")
    assert snapshot == json.loads(SNAPSHOT.read_text())


def test_every_gate_on_the_candidate_is_blocking():
    checks = graph_snapshot()["checks"]
    gates = {name.split(":")[1] for name in checks if name.startswith("mix_candidate:")}
    from anchormix.gates import REQUIRED_GATES

    assert gates == set(REQUIRED_GATES)
    assert all(spec["blocking"] and spec["has_description"] for spec in checks.values())


def test_lineage_runs_from_raw_records_to_curated_mix():
    assets = graph_snapshot()["assets"]
    chain = ["curated_mix"]
    while assets[chain[-1]]["deps"]:
        partitioned = [d for d in assets[chain[-1]]["deps"] if assets[d]["partitioned"]]
        chain.append(partitioned[0])
    # Embeddings come before provenance: the detector's embedding block reads the cached vectors.
    assert chain[::-1] == ["raw_records", "normalized", "deduplicated", "embeddings", "provenance", "quality",
                           "semantic_dedup", "diversity", "mix_candidate", "curated_mix"]
    from anchormix.stages.plan import NIGHTLY_ASSETS

    assert tuple(chain[::-1]) == NIGHTLY_ASSETS  # the graph is the declared order
    assert {a["group"] for a in assets.values()} == {"ingest", "curation", "gates", "publish"}
