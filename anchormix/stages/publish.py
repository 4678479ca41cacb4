"""Publish a candidate, but only one whose every gate passed for its fingerprint."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from anchormix.errors import PublishRefused
from anchormix.publish.layout import PROBES
from anchormix.gates import gate_status, refusal_reason
from anchormix.stages.mix import candidate_frame, latest_candidate, probe_frame
from anchormix.store import watermark


def check_publishable(con: duckdb.DuckDBPyConnection, drop: str) -> dict:
    """The candidate of ``drop`` if it may be published; else :class:`PublishRefused` saying why."""
    candidate = latest_candidate(con, drop)
    if candidate is None:
        raise PublishRefused(f"no candidate mix exists for {drop}: materialize mix_candidate first")
    fp = candidate["fingerprint"]
    current = watermark(con, drop)
    if current != candidate["watermark"]:
        raise PublishRefused(
            f"candidate {fp} for {drop} is stale: records arrived after it was built "
            f"(watermark {candidate['watermark']} -> {current}); rebuild mix_candidate and its gates"
        )
    reason = refusal_reason(gate_status(con, fp))
    if reason:
        raise PublishRefused(f"candidate {fp} for {drop} may not be published: {reason}")
    return candidate


def _same_records(con: duckdb.DuckDBPyConnection, generation: int, fingerprint: str) -> bool:
    """Whether a candidate holds exactly the records of a published generation."""
    return bool(con.execute(
        "SELECT (SELECT list(id ORDER BY id) FROM published_records WHERE generation = ?) = "
        "(SELECT list(id ORDER BY id) FROM candidate_records WHERE fingerprint = ?)",
        [generation, fingerprint]).fetchone()[0])


def _states_table(con: duckdb.DuckDBPyConnection, fingerprint: str) -> pd.DataFrame:
    return con.execute(
        "SELECT state, detail, n FROM record_states WHERE fingerprint = ? ORDER BY state, n DESC", [fingerprint]
    ).df()


def publish_drop(con: duckdb.DuckDBPyConnection, drop: str, published_root: Path, dataset_name: str = "anchormix-mix",
                 license: str | list[str] | None = None, group_readable: bool = True, registry=None,
                 signer=None) -> dict:
    """Publish the gated candidate of ``drop`` as the next generation (idempotent per fingerprint).

    ``license`` (default: each source's SPDX license) is Croissant's dataset
    license. ``registry`` (:class:`~anchormix.provenance.registry.Registry`)
    credits each source's rights holder and creator in the attribution table;
    ``signer`` (:class:`~anchormix.publish.signing.Signer`, ``[publish]
    signing_key``) signs the manifest, and the card names its key id.
    """
    from anchormix.publish.attribution import attribution_table
    from anchormix.publish.atomic import next_generation, publish_generation
    from anchormix.publish.datacard import render_data_card

    from anchormix.publish.reconcile import commit_publication, reconcile

    # A publish killed after its rename but before the store commit left the disk ahead of the store.
    reconcile(con, published_root)
    candidate = check_publishable(con, drop)
    fp = candidate["fingerprint"]
    done = con.execute("SELECT generation, path FROM publications WHERE fingerprint = ?", [fp]).fetchone()
    if done:
        return {"generation": done[0], "path": done[1], "fingerprint": fp, "already_published": True,
                "probes": probes_path(done[1])}
    latest = con.execute("SELECT generation, path FROM publications ORDER BY generation DESC LIMIT 1").fetchone()
    if latest and _same_records(con, latest[0], fp):
        # A night with no new eligible records (e.g. a backfilled empty day) keeps the current generation.
        return {"generation": latest[0], "path": latest[1], "fingerprint": fp, "already_published": True,
                "probes": probes_path(latest[1]),
                "unchanged": True}
    records = candidate_frame(con, fp)
    probes = probe_frame(con, fp)
    generation = max(next_generation(published_root),
                     con.execute("SELECT coalesce(max(generation), 0) + 1 FROM publications").fetchone()[0])
    states = _states_table(con, fp)
    history = con.execute(
        "SELECT generation, metric, value FROM metrics_history WHERE published ORDER BY generation"
    ).df()
    report = candidate["report"]
    per_source = pd.DataFrame(report.get("per_source", []))
    status = gate_status(con, fp)
    gates = pd.DataFrame([{"gate": g, "passed": v["passed"]} for g, v in status.items()])
    states_for_card = states.rename(columns={"detail": "reason", "n": "count"})
    attribution = attribution_table(records, registry)
    card_md, plots = render_data_card(
        generation=generation, terminal_counts=states_for_card, shares=report.get("shares", {}),
        per_source=per_source, metrics=report.get("diversity", {}), metrics_history=history,
        baseline_metrics=report.get("baseline", {}).get("metrics"), policy=candidate["policy"],
        name=dataset_name, n_records=len(records), gates=gates,
        drop=drop, fingerprint=fp,
        diversity_tests=(report.get("diversity_verdict") or {}).get("rows", []),
        attribution=attribution, signing_key_id=signer.key_id if signer else None,
        public_key_b64=signer.public_key_b64 if signer else None,
        value=report.get("value"), probes=probe_card_summary(probes, report.get("probes")),
    )
    manifest = {
        "name": dataset_name, "generation": generation, "drop": drop, "fingerprint": fp,
        "policy": candidate["policy"], "thresholds": candidate["thresholds"],
        "shares": report.get("shares", {}), "diversity": report.get("diversity", {}),
        "terminal_states": states.to_dict(orient="records"),
    }
    if len(probes):
        manifest["probe_baseline"] = (report.get("probes") or {}).get("baseline_id")
    path = publish_generation(published_root, generation, records, manifest=manifest, card_markdown=card_md,
                              plots=plots, name=dataset_name, license=license, group_readable=group_readable,
                              attribution=attribution, signer=signer,
                              probes=probes if len(probes) else None)
    commit_publication(con, generation, fp, drop, path, records["id"].tolist())
    return {"generation": generation, "path": str(path), "fingerprint": fp, "n_records": len(records),
            "card": card_md, "already_published": False,
            "probes": str(Path(path) / PROBES) if len(probes) else None, "n_probes": len(probes),
            "signed_by": signer.key_id if signer else None, "attribution": attribution}


def probes_path(generation_dir: str | Path) -> str | None:
    """The probe set of a published generation, if it has one."""
    path = Path(generation_dir) / PROBES
    return str(path) if path.exists() else None


def probe_card_summary(probes: pd.DataFrame, stored: dict | None) -> dict | None:
    """What the data card says of the probe set: records per rare cluster, kept from the previous generation."""
    if probes.empty:
        return None
    per = probes.groupby(["cluster", "cluster_label"]).size().reset_index(name="records")
    return {"path": PROBES, "records": len(probes), "kept_from_previous": (stored or {}).get("kept_from_previous", 0),
            "baseline_id": (stored or {}).get("baseline_id"), "per_cluster": per.to_dict(orient="records")}
