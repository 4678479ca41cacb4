"""Label every unique record through this drop with evidence and a class.

Labelling covers history too, because the detector is retrained on the growing
set of confidently labelled records and re-scores every ``unknown`` record.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from anchormix.provenance.detector import DetectorSettings
from anchormix.provenance.labeler import label_records
from anchormix.provenance.registry import load_registry


def provenance_drop(con: duckdb.DuckDBPyConnection, drop: str, registry_path: Path,
                    settings: DetectorSettings, model_dir: Path) -> dict:
    """(Re)label records of drops <= ``drop``; returns class counts and the detector report."""
    registry = load_registry(registry_path)
    records = con.execute(
        """
        SELECT n.id, r.source, n.norm_text, n.content_hash, r.fetched_at, r.manifest, r.media_path, n.drop
        FROM normalized n JOIN raw_records r USING (id) JOIN dedup d USING (id)
        WHERE n.drop <= ? AND (d.status = 'unique' OR d.method = 'semantic') ORDER BY r.seq
        """,
        [drop],
    ).df()
    result = label_records(records, registry, settings, model_dir)
    drop_of = dict(zip(records["id"], records["drop"]))
    evidence = result.evidence.assign(drop=result.evidence["record_id"].map(drop_of))
    classes = result.classes.assign(drop=result.classes["id"].map(drop_of))
    con.register("_labelled_ids", records[["id"]])
    con.register("_new_evidence", evidence[["record_id", "drop", "signal", "value", "verdict", "ref"]])
    con.register("_new_classes", classes[["id", "drop", "class", "reason"]])
    det = result.detector
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM evidence WHERE id IN (SELECT id FROM _labelled_ids)")
        con.execute("DELETE FROM provenance WHERE id IN (SELECT id FROM _labelled_ids)")
        con.execute("INSERT INTO evidence SELECT * FROM _new_evidence")
        con.execute("INSERT INTO provenance SELECT * FROM _new_classes")
        con.execute(
            "INSERT INTO detector_runs (drop, version, trained, reason, heldout_auroc, threshold, precision, recall, "
            "n_train, n_test) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [drop, det.get("version"), bool(det.get("trained")), det.get("reason"), det.get("heldout_auroc"),
             det.get("threshold"), det.get("precision"), det.get("recall"), det.get("n_train"), det.get("n_test")],
        )
        con.execute("COMMIT")
    finally:
        for name in ("_labelled_ids", "_new_evidence", "_new_classes"):
            con.unregister(name)
    counts = classes["class"].value_counts().to_dict()
    return {"labelled": len(records), "classes": {k: int(v) for k, v in counts.items()},
            "evidence_rows": len(evidence), "detector": det}


def latest_detector(con: duckdb.DuckDBPyConnection, drop: str) -> dict | None:
    """The detector report recorded by the latest provenance run of ``drop``."""
    frame = con.execute(
        "SELECT * FROM detector_runs WHERE drop = ? ORDER BY created_at DESC LIMIT 1", [drop]
    ).df()
    return None if frame.empty else frame.iloc[0].to_dict()
