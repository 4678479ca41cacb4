"""Croissant 1.0 JSON-LD for a published generation, built with mlcroissant, and its validation.

Each Parquet shard is a ``FileObject`` carrying its sha256 (so a reader can
verify every byte), and a ``FileSet`` over ``data/*.parquet`` feeds the
``records`` RecordSet, whose fields carry each record's provenance class,
source, license and content hash. The ``attribution`` RecordSet holds its rows
inline: each source with its license, rights holder, creator and record count.

The document is built from mlcroissant's classes (``mlc.Metadata``,
``mlc.FileObject``, ``mlc.RecordSet``, ``mlc.Field``), so what it writes is what
mlcroissant reads back (context, property names, data types). One function per
record set; a new record set is one more function and one more entry in
:func:`build_croissant`'s list.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from anchormix.publish.layout import DATA_DIR, PROBE_RECORD_SET, RECORD_SET

CONFORMS_TO = "http://mlcommons.org/croissant/1.0"
PARQUET = "application/x-parquet"
FILESET_ID = "parquet-shards"
ATTRIBUTION_SET = "attribution"
ATTRIBUTION_FIELDS = {
    "source": ("sc:Text", "Registered source."),
    "license": ("sc:Text", "SPDX license expression its records were registered under (LicenseRef-... for "
                           "custom terms, NOASSERTION when not known)."),
    "rights_holder": ("sc:Text", "Who holds the rights to the source's records (from the registry)."),
    "creator": ("sc:Text", "Who created the source's records (from the registry)."),
    "records": ("sc:Integer", "Records of this source under this license in the generation."),
}

FIELD_DESCRIPTIONS = {
    "id": "Record id as declared in the scrape; unique across all history.",
    "text": "Normalized record text (Unicode NFC, whitespace normalized).",
    "source": "Registered source the record was scraped from.",
    "provenance_class": (
        "Provenance class from the evidence precedence: human_verified, human_presumed, "
        "synthetic_declared, synthetic_suspected or unknown."
    ),
    "content_hash": "Stable hash of the normalized text (dedup key and integrity check).",
    "drop": "Nightly drop (YYYY-MM-DD) the record arrived in.",
    "url": "URL the record was fetched from.",
    "license": "SPDX license expression of the record (its source's as registered when the record was taken in).",
    "cluster": "Rare cluster of the pinned human baseline the probe record belongs to.",
    "cluster_label": "That cluster's distinctive terms (c-TF-IDF over the baseline's texts).",
}
PROBE_FILE_ID = "tail-probes-file"


@dataclass(frozen=True)
class ShardFile:
    """One Parquet shard: path relative to the generation directory, sha256 hex, rows."""

    path: str
    sha256: str
    n_rows: int | None = None


def _as_shard(item: ShardFile | Mapping[str, Any] | Sequence[Any]) -> ShardFile:
    if isinstance(item, ShardFile):
        return item
    if isinstance(item, Mapping):
        return ShardFile(str(item["path"]), str(item["sha256"]), item.get("n_rows"))
    path, sha256, *rest = item
    return ShardFile(str(path), str(sha256), rest[0] if rest else None)


def _data_type(name: str):
    """An mlcroissant data type from its ``sc:`` name (``sc:Text``, ``sc:Integer``...)."""
    import mlcroissant as mlc

    return {"sc:Text": mlc.DataType.TEXT, "sc:Integer": mlc.DataType.INTEGER, "sc:Float": mlc.DataType.FLOAT,
            "sc:Boolean": mlc.DataType.BOOL, "sc:Date": mlc.DataType.DATE}.get(name, mlc.DataType.TEXT)


def shard_distribution(shards: Sequence[ShardFile], generation: int) -> list:
    """One ``FileObject`` per shard (with its sha256) and the ``FileSet`` the records set reads."""
    import mlcroissant as mlc

    files = [
        mlc.FileObject(
            id=shard.path, name=shard.path, content_url=shard.path, encoding_formats=[PARQUET], sha256=shard.sha256,
            description="Parquet shard" + (f" with {shard.n_rows} records." if shard.n_rows is not None else "."),
        )
        for shard in shards
    ]
    files.append(mlc.FileSet(
        id=FILESET_ID, name=FILESET_ID, encoding_formats=[PARQUET], includes=[f"{DATA_DIR}/*.parquet"],
        description=f"All Parquet shards of generation {generation}; see each FileObject for its sha256.",
    ))
    return files


def records_record_set(fields: Mapping[str, str]):
    """The ``records`` set: one row per published record, read from the shards, keyed by ``id``."""
    import mlcroissant as mlc

    return mlc.RecordSet(
        id=RECORD_SET, name=RECORD_SET, key=[f"{RECORD_SET}/id"],
        description="One row per published record, with its provenance class, source, license and content hash.",
        fields=[
            mlc.Field(id=f"{RECORD_SET}/{name}", name=name, data_types=[_data_type(data_type)],
                      description=FIELD_DESCRIPTIONS.get(name, f"Column {name}."),
                      source=mlc.Source(file_set=FILESET_ID, extract=mlc.Extract(column=name)))
            for name, data_type in fields.items()
        ],
    )


def attribution_record_set(attribution: pd.DataFrame):
    """The ``attribution`` set, inline: one row per (source, license) with rights holder, creator and records."""
    import mlcroissant as mlc

    rows = [{f"{ATTRIBUTION_SET}/{k}": (int(row[k]) if k == "records" else str(row.get(k) or ""))
             for k in ATTRIBUTION_FIELDS} for row in attribution.to_dict(orient="records")]
    return mlc.RecordSet(
        id=ATTRIBUTION_SET, name=ATTRIBUTION_SET, key=[f"{ATTRIBUTION_SET}/source", f"{ATTRIBUTION_SET}/license"],
        description="Attribution: each source of this generation with its license, rights holder, creator and "
                    "record count. A record's own license is its `license` field in the records set.",
        fields=[mlc.Field(id=f"{ATTRIBUTION_SET}/{name}", name=name, data_types=[_data_type(data_type)],
                          description=description)
                for name, (data_type, description) in ATTRIBUTION_FIELDS.items()],
        data=rows,
    )


def probe_distribution(path: str, sha256: str, n_records: int):
    """The tail probe file (``probes/probes.parquet``) as a ``FileObject`` with its sha256."""
    import mlcroissant as mlc

    return mlc.FileObject(
        id=PROBE_FILE_ID, name=PROBE_FILE_ID, content_url=path, encoding_formats=[PARQUET], sha256=sha256,
        description=f"Tail probe set: {n_records} held-out human records of the rare baseline clusters; never in "
                    "the training shards.",
    )


def probe_record_set(fields: Mapping[str, str]):
    """The ``tail_probes`` set: held-out human records of the rare baseline clusters, keyed by ``id``."""
    import mlcroissant as mlc

    return mlc.RecordSet(
        id=PROBE_RECORD_SET, name=PROBE_RECORD_SET, key=[f"{PROBE_RECORD_SET}/id"],
        description="Held-out human records of the pinned baseline's rare clusters, with their cluster and label, "
                    "for measuring a model's tail retention from one generation to the next. Never train on them.",
        fields=[
            mlc.Field(id=f"{PROBE_RECORD_SET}/{name}", name=name, data_types=[_data_type(data_type)],
                      description=FIELD_DESCRIPTIONS.get(name, f"Column {name}."),
                      source=mlc.Source(file_object=PROBE_FILE_ID, extract=mlc.Extract(column=name)))
            for name, data_type in fields.items()
        ],
    )


def build_croissant(
    name: str,
    description: str,
    license: str | Sequence[str],
    generation: int,
    shard_files: Sequence[ShardFile | Mapping[str, Any] | Sequence[Any]],
    records_fields: Mapping[str, str] | Sequence[str],
    *,
    attribution: pd.DataFrame | None = None,
    probes: Mapping[str, Any] | None = None,
    url: str | None = None,
    date_published: str | None = None,
    creator: str | None = None,
    cite_as: str | None = None,
    keywords: Sequence[str] = ("anchormix", "provenance", "human-anchored mix"),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Croissant 1.0 JSON-LD (a dict) describing one published generation.

    ``shard_files``: :class:`ShardFile` (or ``{"path", "sha256"}`` / ``(path, sha256)``)
    with paths relative to the generation directory (``data/part-00000.parquet``).
    ``records_fields``: field name -> Croissant data type (``sc:Text``,
    ``sc:Integer``, ``sc:Float``, ``sc:Boolean``, ``sc:Date``) or a list of names
    (all ``sc:Text``); ``id`` is the record key and must be present.
    ``license``: the generation's licenses (each source's SPDX expression).
    ``attribution``: ``[source, license, rights_holder, creator, records]``
    (:func:`anchormix.publish.attribution.attribution_table`), written as the
    ``attribution`` record set. ``probes``: the tail probe file's ``path``,
    ``sha256``, ``n_records`` and ``fields`` (name -> data type), written as
    its ``FileObject`` and the ``tail_probes`` record set. ``version`` is ``<generation>.0.0``. ``extra``
    keys are merged at the top level (e.g. RAI properties) and may not replace
    the ones built here. Raises ValueError when mlcroissant reports an error.
    """
    import mlcroissant as mlc

    shards = [_as_shard(s) for s in shard_files]
    if not shards:
        raise ValueError("a generation needs at least one shard")
    fields = dict(records_fields) if isinstance(records_fields, Mapping) else {f: "sc:Text" for f in records_fields}
    if "id" not in fields:
        raise ValueError("records_fields must include 'id' (the record key)")
    record_sets = [records_record_set(fields)]
    if attribution is not None and len(attribution):
        record_sets.append(attribution_record_set(attribution))
    distribution = shard_distribution(shards, generation)
    if probes:
        distribution.append(probe_distribution(probes["path"], probes["sha256"], probes["n_records"]))
        record_sets.append(probe_record_set(probes["fields"]))
    metadata = mlc.Metadata(
        name=name, description=description, conforms_to=[CONFORMS_TO], version=f"{generation}.0.0",
        license=[license] if isinstance(license, str) else list(license), keywords=list(keywords), url=url,
        date_published=datetime.fromisoformat(date_published) if date_published else None, cite_as=cite_as,
        creators=[mlc.Organization(name=creator)] if creator else [],
        distribution=distribution, record_sets=record_sets,
    )
    if metadata.issues.errors:
        raise ValueError("mlcroissant rejects the metadata: " + "; ".join(sorted(metadata.issues.errors)))
    doc = metadata.to_json()
    for key, value in (extra or {}).items():
        if key in doc:
            raise ValueError(f"extra key {key!r} would replace a built Croissant property")
        doc[key] = value
    return json.loads(json.dumps(doc, default=str))


class CroissantInvalid(ValueError):
    """mlcroissant rejected the metadata; the message carries its errors."""


def validate_croissant(path: Path) -> None:
    """Load ``path`` with mlcroissant (which validates it); raise CroissantInvalid on errors.

    Loading resolves the local shards relative to ``path``'s directory, so call
    it where the shards are.
    """
    import mlcroissant as mlc  # heavy import (rdflib, networkx): only when validating

    try:
        json.loads(Path(path).read_text(encoding="utf-8"))
        mlc.Dataset(jsonld=str(path))
    except mlc.ValidationError as err:
        raise CroissantInvalid(str(err)) from err
    except json.JSONDecodeError as err:
        raise CroissantInvalid(f"{path}: not JSON: {err}") from err
