"""Atomic, numbered publication of a dataset generation.

Layout under ``root``::

    gen-000001/ data/part-00000.parquet ... manifest.json signature.json croissant.json README.md plots/*.png
    gen-000002/ ...
    LATEST          -> "gen-000002"

Everything is written into ``root/.tmp-gen-NNNNNN-<random>``, fsynced,
re-read and verified, and only then renamed to ``gen-NNNNNN`` (a rename within
one filesystem is atomic). ``LATEST`` is replaced atomically afterwards. A
failure at any step removes the temporary directory (and undoes the rename if
``LATEST`` could not be written), so readers only ever see complete
generations and earlier generations are never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from anchormix.fileio import file_sha256
from anchormix.publish import croissant as croissant_mod
from anchormix.publish import signing
from anchormix.publish.attribution import attribution_table, generation_licenses
from anchormix.publish import probe_set
from anchormix.publish.layout import (
    CARD,
    CROISSANT,
    DATA_DIR,
    LATEST,
    MANIFEST,
    PLOTS_DIR,
    RECORD_FIELDS,
    SIGNATURE,
    generation_dir_name,
    parse_generation_dir,
    plot_path,
    shard_name,
)

TMP_PREFIX = ".tmp-"
MANIFEST_RESERVED = ("format", "generation", "published_at", "n_records", "shards", "records", "probes",
                     "licenses", "attribution", "files", "signature")
MANIFEST_RECORD_FIELDS = ("id", "content_hash", "source", "provenance_class", "license")
# Every record carries its license (an SPDX expression) in the shards and the manifest.
LICENSE_FIELD = "license"

_ARROW_TO_CROISSANT = (
    (pa.types.is_boolean, "sc:Boolean"),
    (pa.types.is_integer, "sc:Integer"),
    (pa.types.is_floating, "sc:Float"),
)


class PublishVerificationError(RuntimeError):
    """The written generation did not match what was meant to be written."""


def write_shard(table: pa.Table, path: Path) -> None:
    """Write one Parquet shard and fsync it.

    Module-level on purpose: tests monkeypatch it to inject a failure mid-write.
    """
    pq.write_table(table, path, compression="zstd")
    _fsync_file(path)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    # A rename is only durable once the directory holding it is synced.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def list_generations(root: Path) -> list[int]:
    """Published generation numbers under ``root``, ascending (temp dirs ignored)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = (parse_generation_dir(p.name) for p in root.iterdir() if p.is_dir())
    return sorted(g for g in found if g is not None)


def latest_generation(root: Path) -> int | None:
    """The generation ``LATEST`` points at, or None before the first publish."""
    path = Path(root) / LATEST
    if not path.exists():
        return None
    name = path.read_text(encoding="utf-8").strip()
    generation = parse_generation_dir(name)
    if generation is None:
        raise ValueError(f"{path}: not a generation directory name: {name!r}")
    return generation


def next_generation(root: Path) -> int:
    """One past the highest generation directory present (1 for an empty root)."""
    existing = list_generations(root)
    return existing[-1] + 1 if existing else 1


def generation_path(root: Path, generation: int) -> Path:
    """The directory of a published generation (whether or not it exists)."""
    return Path(root) / generation_dir_name(generation)


def remove_stale_temp_dirs(root: Path, older_than_seconds: float = 3600.0) -> list[Path]:
    """Remove temporary generation dirs left by a killed process; returns what was removed.

    Only dirs older than ``older_than_seconds`` go, so a publish running
    concurrently keeps its own.
    """
    root = Path(root)
    removed = []
    if not root.is_dir():
        return removed
    cutoff = time.time() - older_than_seconds
    for p in root.iterdir():
        if p.is_dir() and p.name.startswith(TMP_PREFIX) and p.stat().st_mtime < cutoff:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def _croissant_type(arrow_type: pa.DataType) -> str:
    for test, name in _ARROW_TO_CROISSANT:
        if test(arrow_type):
            return name
    return "sc:Text"


def _check_records(records: pd.DataFrame) -> None:
    missing = [c for c in (*RECORD_FIELDS, LICENSE_FIELD) if c not in records.columns]
    if missing:
        raise ValueError(f"records are missing columns: {missing}")
    if len(records) == 0:
        raise ValueError("refusing to publish an empty generation")
    for col in ("id", "content_hash", "provenance_class", "source", LICENSE_FIELD):
        if records[col].isna().any():
            raise ValueError(f"records.{col} has nulls")
    if records["id"].duplicated().any():
        raise ValueError(f"duplicate ids: {records.loc[records['id'].duplicated(), 'id'].head(5).tolist()}")


def _write_shards(records: pd.DataFrame, tmp: Path, shard_rows: int) -> tuple[list[dict[str, Any]], pa.Schema]:
    (tmp / DATA_DIR).mkdir()
    table = pa.Table.from_pandas(records.reset_index(drop=True), preserve_index=False)
    shards = []
    for index, start in enumerate(range(0, table.num_rows, shard_rows)):
        rel = shard_name(index)
        chunk = table.slice(start, shard_rows)
        write_shard(chunk, tmp / rel)
        shards.append({"path": rel, "sha256": file_sha256(tmp / rel), "n_rows": chunk.num_rows})
    return shards, table.schema


def _build_manifest(generation: int, records: pd.DataFrame, shards: list[dict], manifest: Mapping[str, Any], now: str) -> dict:
    # Callers often echo the generation number; that is harmless when it agrees.
    clash = sorted(
        k for k in set(manifest) & set(MANIFEST_RESERVED) if not (k == "generation" and manifest[k] == generation)
    )
    if clash:
        raise ValueError(f"manifest keys {clash} are reserved for the publisher")
    per_record = records[list(MANIFEST_RECORD_FIELDS)].astype(str).to_dict(orient="records")
    return {
        **dict(manifest),
        "format": "anchormix-generation/1",
        "generation": generation,
        "published_at": now,
        "n_records": len(records),
        "shards": shards,
        "records": per_record,
    }


def _verify(tmp: Path, records: pd.DataFrame, shards: list[dict]) -> None:
    """Re-read what was written and compare it with what was meant."""
    manifest = json.loads((tmp / MANIFEST).read_text(encoding="utf-8"))
    json.loads((tmp / CROISSANT).read_text(encoding="utf-8"))
    on_disk = sorted(p.relative_to(tmp).as_posix() for p in (tmp / DATA_DIR).glob("*.parquet"))
    if on_disk != [s["path"] for s in shards]:
        raise PublishVerificationError(f"shards on disk {on_disk} != written {[s['path'] for s in shards]}")
    n_rows, hashes, ids = 0, set(), set()
    for shard in shards:
        path = tmp / shard["path"]
        if file_sha256(path) != shard["sha256"]:
            raise PublishVerificationError(f"{shard['path']}: sha256 changed after writing")
        table = pq.read_table(path, columns=["id", "content_hash"])
        n_rows += table.num_rows
        hashes.update(table.column("content_hash").to_pylist())
        ids.update(table.column("id").to_pylist())
    if n_rows != manifest["n_records"] or n_rows != len(records):
        raise PublishVerificationError(f"shards hold {n_rows} rows, manifest says {manifest['n_records']}")
    if hashes != {r["content_hash"] for r in manifest["records"]}:
        raise PublishVerificationError("content hashes in the shards differ from the manifest")
    if ids != {r["id"] for r in manifest["records"]}:
        raise PublishVerificationError("ids in the shards differ from the manifest")
    if manifest.get("probes"):
        try:
            probe_set.verify_probe_set(tmp, manifest["probes"], ids, hashes)
        except probe_set.ProbeLeak as exc:
            raise PublishVerificationError(str(exc)) from exc
    croissant_mod.validate_croissant(tmp / CROISSANT)


def _verify_signed(tmp: Path, signer: signing.Signer | None, generation: int) -> None:
    """The publisher checks what it wrote the way a consumer will (unsigned: the file hashes only)."""
    from anchormix.publish.verify import verify_generation

    report = verify_generation(tmp, signer.public_key if signer is not None else None, expected_generation=generation)
    problems = [p for p in report.problems if signer is not None or not p.startswith(SIGNATURE)]
    if problems:
        raise PublishVerificationError("; ".join(problems))


def _set_modes(tree: Path, group_readable: bool) -> None:
    """Readers of a published generation are often a training job under another user of the same group."""
    dir_mode, file_mode = (0o750, 0o640) if group_readable else (0o700, 0o600)
    for path in sorted(tree.rglob("*")):
        os.chmod(path, dir_mode if path.is_dir() else file_mode)
    os.chmod(tree, dir_mode)


def _write_latest(root: Path, generation: int, group_readable: bool = True) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{LATEST}-", dir=root)
    try:
        os.fchmod(fd, 0o640 if group_readable else 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(generation_dir_name(generation) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, root / LATEST)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(root)


def publish_generation(
    root: Path,
    generation: int,
    records: pd.DataFrame,
    *,
    manifest: dict,
    card_markdown: str,
    plots: dict[str, bytes] | None = None,
    shard_rows: int = 50_000,
    name: str = "anchormix-mix",
    description: str | None = None,
    license: str | list[str] | None = None,
    group_readable: bool = True,
    attribution: pd.DataFrame | None = None,
    signer: signing.Signer | None = None,
    probes: pd.DataFrame | None = None,
) -> Path:
    """Publish ``records`` as generation ``generation`` under ``root``; return its directory.

    ``records`` needs ``id, text, source, provenance_class, content_hash, drop,
    url, license`` (extra columns are kept). ``manifest`` is merged into
    ``manifest.json`` beside the per-record ``id, content_hash, source,
    provenance_class`` (its keys may not be ``format, published_at,
    n_records, shards, records``; ``generation`` only if it agrees). ``plots`` maps bare ``*.png``
    names to bytes, written under ``plots/``. ``name``, ``description`` and
    ``license`` (default: the records' distinct licenses) go into ``croissant.json``.
    ``attribution`` (:func:`anchormix.publish.attribution.attribution_table`;
    default: from the records, without rights holders) goes into the manifest
    and is Croissant's ``attribution`` record set. ``manifest.json`` is written
    last and lists the sha256 of every other file; ``signer`` signs its bytes
    into ``signature.json`` (:mod:`anchormix.publish.signing`), and the signed
    generation must pass :func:`anchormix.publish.verify.verify_generation`
    before it is renamed into place.

    Refuses (FileExistsError) to overwrite a generation and (ValueError) to
    publish a number not above every existing one. Writes into a temporary
    directory, verifies it (row count, content hashes and ids against the
    manifest, shard sha256, JSON parses, mlcroissant validates), renames it
    into place, then atomically points ``LATEST`` at it. On any failure the
    temporary directory is removed and earlier generations and ``LATEST`` are
    left as they were. ``group_readable`` (``[publish] group_readable``): the
    generation is readable by the owner's group (dirs 0750, files 0640), else
    by the owner only; temporary files are created 0600/0700 either way.
    ``probes``: the tail probe set (:data:`~anchormix.publish.layout.PROBE_FIELDS`), written to
    ``probes/probes.parquet``, listed in the manifest under ``probes`` and
    described as the ``tail_probes`` Croissant record set; verification
    refuses a generation whose shards hold a probe id or content hash.
    """
    root = Path(root)
    target = generation_path(root, generation)
    if shard_rows < 1:
        raise ValueError(f"shard_rows must be >= 1, got {shard_rows}")
    _check_records(records)
    plot_files = {plot_path(k): v for k, v in (plots or {}).items()}
    root.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise FileExistsError(f"{target} already exists; generations are never overwritten")
    existing = list_generations(root)
    if existing and generation <= existing[-1]:
        raise ValueError(f"generation {generation} is not above the latest existing generation {existing[-1]}")

    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{target.name}-", dir=root))
    renamed = False
    try:
        now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
        shards, schema = _write_shards(records, tmp, shard_rows)
        doc = _build_manifest(generation, records, shards, manifest, now)
        attribution = attribution if attribution is not None else attribution_table(records)
        doc["licenses"] = generation_licenses(attribution)
        doc["attribution"] = attribution.to_dict(orient="records")
        probe_entry = probe_set.write_probe_set(tmp, probes, write_shard) if probes is not None and len(probes) else None
        if probe_entry is not None:
            doc["probes"] = probe_entry
        fields = {f.name: _croissant_type(f.type) for f in schema}
        croissant_doc = croissant_mod.build_croissant(
            name=name,
            description=description or f"anchormix generation {generation}: a human-anchored training mix.",
            license=license or doc["licenses"],
            generation=generation,
            shard_files=shards,
            records_fields=fields,
            attribution=attribution,
            probes=probe_set.croissant_entry(tmp, probe_entry, _croissant_type) if probe_entry else None,
            date_published=now,
            cite_as=f"@misc{{{name.replace('-', '_')}_gen{generation}, title={{{name}, generation {generation}}}}}",
        )
        _write_bytes(tmp / CROISSANT, json.dumps(croissant_doc, indent=1).encode("utf-8"))
        _write_bytes(tmp / CARD, card_markdown.encode("utf-8"))
        if plot_files:
            (tmp / PLOTS_DIR).mkdir()
        for rel, data in plot_files.items():
            _write_bytes(tmp / rel, data)
        # Last: the manifest lists every file written above, and the signature covers the manifest.
        doc["files"] = signing.file_entries(tmp)
        doc["signature"] = signing.signing_block(signer)
        manifest_bytes = json.dumps(doc, indent=1, sort_keys=False, default=str).encode("utf-8")
        _write_bytes(tmp / MANIFEST, manifest_bytes)
        if signer is not None:
            _write_bytes(tmp / SIGNATURE, signing.signature_bytes(manifest_bytes, signer))
        _verify(tmp, records, shards)
        _verify_signed(tmp, signer, generation)
        _set_modes(tmp, group_readable)
        _fsync_dir(tmp / DATA_DIR)
        if probe_entry is not None:
            _fsync_dir((tmp / probe_entry["path"]).parent)
        _fsync_dir(tmp)
        os.rename(tmp, target)  # atomic; fails if a concurrent publisher got there first
        renamed = True
        _fsync_dir(root)
        _write_latest(root, generation, group_readable)
    except BaseException:
        if renamed:
            # LATEST could not move: take the generation back out rather than leave
            # a published directory nothing points at.
            os.rename(target, tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
