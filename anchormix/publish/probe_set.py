"""The tail probe set inside a published generation: its file, manifest entry, Croissant record set and check.

``probes/probes.parquet`` holds the held-out human records of the rare
baseline clusters (:mod:`anchormix.probes`) with their cluster and label. The
publisher refuses a generation whose shards hold any probe id or content
hash: a probe a model trained on measures nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from anchormix.fileio import file_sha256
from anchormix.publish.layout import PROBE_FIELDS, PROBE_RECORD_SET, PROBES

PROBES_FILE_ID = "tail-probes-file"
FIELD_DESCRIPTIONS = {
    "cluster": "Rare cluster of the pinned human baseline the record belongs to.",
    "cluster_label": "That cluster's distinctive terms (c-TF-IDF over the baseline's texts).",
}


class ProbeLeak(RuntimeError):
    """A probe record is also in the published shards."""


def write_probe_set(directory: Path, probes: pd.DataFrame, writer) -> dict[str, Any]:
    """Write ``probes`` to ``directory/probes/probes.parquet`` with ``writer(table, path)``; its manifest entry.

    The entry names the file, its sha256, its records (id, content hash,
    cluster, label) and the count per cluster.
    """
    missing = [c for c in PROBE_FIELDS if c not in probes.columns]
    if missing:
        raise ValueError(f"probe records are missing columns: {missing}")
    if probes["id"].duplicated().any():
        raise ValueError("probe ids must be unique")
    frame = probes[list(PROBE_FIELDS)].reset_index(drop=True)
    frame = frame.assign(cluster=frame["cluster"].astype("int64"))
    path = Path(directory) / PROBES
    path.parent.mkdir(parents=True, exist_ok=True)
    writer(pa.Table.from_pandas(frame, preserve_index=False), path)
    per_cluster = frame.groupby(["cluster", "cluster_label"]).size()
    return {
        "path": PROBES,
        "sha256": file_sha256(path),
        "n_records": len(frame),
        "clusters": [{"cluster": int(c), "label": str(label), "n_records": int(n)}
                     for (c, label), n in per_cluster.items()],
        "records": frame[["id", "content_hash", "cluster", "cluster_label"]].astype(
            {"id": str, "content_hash": str, "cluster": int, "cluster_label": str}).to_dict(orient="records"),
    }


def verify_probe_set(directory: Path, entry: dict[str, Any], shard_ids: set, shard_hashes: set) -> None:
    """Re-read the probe file: its hash and rows as the entry says, and no probe id or text in the shards."""
    path = Path(directory) / entry["path"]
    if file_sha256(path) != entry["sha256"]:
        raise ProbeLeak(f"{entry['path']}: sha256 changed after writing")
    table = pq.read_table(path, columns=["id", "content_hash"])
    ids, hashes = set(table.column("id").to_pylist()), set(table.column("content_hash").to_pylist())
    if table.num_rows != entry["n_records"] or ids != {r["id"] for r in entry["records"]}:
        raise ProbeLeak(f"{entry['path']}: rows differ from the manifest")
    leaked = sorted(ids & shard_ids) + sorted(hashes & shard_hashes)
    if leaked:
        raise ProbeLeak(f"{len(leaked)} probe ids or content hashes are also in the training shards, e.g. {leaked[:3]}")


def croissant_probe_parts(entry: dict[str, Any], fields: dict[str, str]) -> tuple[dict, dict]:
    """The probe file's Croissant ``FileObject`` and its ``tail_probes`` ``RecordSet`` (JSON-LD dicts).

    ``fields``: column -> Croissant data type, as for the records set.
    """
    from anchormix.publish.croissant import FIELD_DESCRIPTIONS as RECORD_FIELD_DESCRIPTIONS
    from anchormix.publish.croissant import PARQUET

    file_object = {
        "@type": "cr:FileObject", "@id": PROBES_FILE_ID, "name": PROBES_FILE_ID,
        "description": f"Tail probe set: {entry['n_records']} held-out human records of the rare baseline clusters; "
                       "never in the training shards.",
        "contentUrl": entry["path"], "encodingFormat": PARQUET, "sha256": entry["sha256"],
    }
    descriptions = {**RECORD_FIELD_DESCRIPTIONS, **FIELD_DESCRIPTIONS}
    record_set = {
        "@type": "cr:RecordSet", "@id": PROBE_RECORD_SET, "name": PROBE_RECORD_SET,
        "description": ("Held-out human records of the pinned baseline's rare clusters, with their cluster and label, "
                        "for measuring a model's tail retention from one generation to the next. Never train on them."),
        "key": {"@id": f"{PROBE_RECORD_SET}/id"},
        "field": [{
            "@type": "cr:Field", "@id": f"{PROBE_RECORD_SET}/{name}", "name": name,
            "description": descriptions.get(name, f"Column {name}."), "dataType": data_type,
            "source": {"fileObject": {"@id": PROBES_FILE_ID}, "extract": {"column": name}},
        } for name, data_type in fields.items()],
    }
    return file_object, record_set
