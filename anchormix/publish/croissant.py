"""Croissant 1.0 JSON-LD for a published generation, and its validation.

Each Parquet shard is a ``FileObject`` carrying its sha256 (so a reader can
verify every byte), and a ``FileSet`` over ``data/*.parquet`` feeds the
``records`` RecordSet, whose fields carry each record's provenance class,
source and content hash. The ``@context`` is mlcroissant's standard 1.0 one
(mlcroissant warns on a non-standard context).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anchormix.publish.layout import DATA_DIR, RECORD_SET

CONFORMS_TO = "http://mlcommons.org/croissant/1.0"
PARQUET = "application/x-parquet"
FILESET_ID = "parquet-shards"

# The standard Croissant 1.0 @context (as mlcroissant 1.x expects it).
CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
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
}


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


def _field_id(name: str) -> str:
    return f"{RECORD_SET}/{name}"


def build_croissant(
    name: str,
    description: str,
    license: str,
    generation: int,
    shard_files: Sequence[ShardFile | Mapping[str, Any] | Sequence[Any]],
    records_fields: Mapping[str, str] | Sequence[str],
    *,
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
    ``version`` is ``<generation>.0.0``. ``extra`` keys are merged at the top
    level (e.g. RAI properties) and may not replace the ones built here.
    """
    shards = [_as_shard(s) for s in shard_files]
    if not shards:
        raise ValueError("a generation needs at least one shard")
    fields = dict(records_fields) if isinstance(records_fields, Mapping) else {f: "sc:Text" for f in records_fields}
    if "id" not in fields:
        raise ValueError("records_fields must include 'id' (the record key)")

    distribution: list[dict[str, Any]] = [
        {
            "@type": "cr:FileObject",
            "@id": shard.path,
            "name": shard.path,
            "description": "Parquet shard" + (f" with {shard.n_rows} records." if shard.n_rows is not None else "."),
            "contentUrl": shard.path,
            "encodingFormat": PARQUET,
            "sha256": shard.sha256,
        }
        for shard in shards
    ]
    distribution.append(
        {
            "@type": "cr:FileSet",
            "@id": FILESET_ID,
            "name": FILESET_ID,
            "description": f"All Parquet shards of generation {generation}; see each FileObject for its sha256.",
            "encodingFormat": PARQUET,
            "includes": f"{DATA_DIR}/*.parquet",
        }
    )
    record_fields = [
        {
            "@type": "cr:Field",
            "@id": _field_id(field_name),
            "name": field_name,
            "description": FIELD_DESCRIPTIONS.get(field_name, f"Column {field_name}."),
            "dataType": data_type,
            "source": {"fileSet": {"@id": FILESET_ID}, "extract": {"column": field_name}},
        }
        for field_name, data_type in fields.items()
    ]
    doc: dict[str, Any] = {
        "@context": dict(CONTEXT),
        "@type": "sc:Dataset",
        "name": name,
        "description": description,
        "conformsTo": CONFORMS_TO,
        "license": license,
        "version": f"{generation}.0.0",
        "keywords": list(keywords),
        "distribution": distribution,
        "recordSet": [
            {
                "@type": "cr:RecordSet",
                "@id": RECORD_SET,
                "name": RECORD_SET,
                "description": (
                    "One row per published record, with its provenance class, source and content hash."
                ),
                "key": {"@id": _field_id("id")},
                "field": record_fields,
            }
        ],
    }
    if url:
        doc["url"] = url
    if date_published:
        doc["datePublished"] = date_published
    if creator:
        doc["creator"] = {"@type": "sc:Organization", "name": creator}
    if cite_as:
        doc["citeAs"] = cite_as
    for key, value in (extra or {}).items():
        if key in doc:
            raise ValueError(f"extra key {key!r} would replace a built Croissant property")
        doc[key] = value
    return doc


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
