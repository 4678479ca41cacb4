"""The tail probe set inside a published generation: its file, its manifest entry and the leak check.

``probes/probes.parquet`` holds the held-out human records of the rare
baseline clusters (:mod:`anchormix.probes`) with their license, cluster and
label; :func:`anchormix.publish.croissant.probe_record_set` describes it. The
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
from anchormix.publish.layout import PROBE_FIELDS, PROBES


class ProbeLeak(RuntimeError):
    """A probe record is also in the published shards."""


def write_probe_set(directory: Path, probes: pd.DataFrame, writer) -> dict[str, Any]:
    """Write ``probes`` to ``directory/probes/probes.parquet`` with ``writer(table, path)``; its manifest entry.

    The entry names the file, its sha256, its records (id, content hash,
    license, cluster, label) and the count per cluster: the manifest gives every
    record's license, the probes' as well as the shards'.
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
        "records": frame[["id", "content_hash", "license", "cluster", "cluster_label"]].astype(
            {"id": str, "content_hash": str, "license": str, "cluster": int, "cluster_label": str}
        ).to_dict(orient="records"),
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


def croissant_entry(directory: Path, entry: dict[str, Any], croissant_type) -> dict[str, Any]:
    """What :func:`anchormix.publish.croissant.build_croissant` needs of the probe file: path, sha256, records,
    and each column's Croissant type (``croissant_type(arrow_type)``)."""
    schema = pq.read_schema(Path(directory) / entry["path"])
    return {"path": entry["path"], "sha256": entry["sha256"], "n_records": entry["n_records"],
            "fields": {f.name: croissant_type(f.type) for f in schema}}
