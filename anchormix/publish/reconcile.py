"""Make the published directories, ``LATEST`` and the store agree after a crash in publish.

Publishing has three durable steps: rename the verified generation directory
into place, point ``LATEST`` at it, and commit the publication in the store.
A SIGKILL between them leaves the disk ahead of the store. Without this, the
next run would see no publication for the candidate and publish the same
records again as a new generation. The next publish (or ``anchormix
reconcile``) therefore runs :func:`reconcile` first:

* a generation directory the store does not know, whose manifest names a
  candidate the store built, is **adopted**: the store commit that was cut
  short is completed from the manifest (the directory was verified before it
  was renamed, so its records are complete);
* any other unknown generation directory is moved aside to
  ``.orphan-gen-NNNNNN-<time>``, never deleted;
* ``LATEST`` is pointed at the newest generation the store holds.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import duckdb

from anchormix.publish.atomic import (_write_latest, generation_path, latest_generation, list_generations,
                                      remove_stale_temp_dirs)
from anchormix.publish.layout import LATEST, MANIFEST
from anchormix.store_writes import settle


def commit_publication(con: duckdb.DuckDBPyConnection, generation: int, fingerprint: str, drop: str, path: Path,
                       ids: list[str]) -> None:
    """Record a published generation in the store, in one transaction (rolled back on error)."""
    import pyarrow as pa

    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("INSERT INTO publications (generation, fingerprint, drop, path, n_records) VALUES (?, ?, ?, ?, ?)",
                    [generation, fingerprint, drop, str(path), len(ids)])
        rows = pa.table({"generation": pa.array([generation] * len(ids), pa.int32()), "id": pa.array(ids, pa.string())})
        settle(con).register("_published_rows", rows)
        con.execute("INSERT INTO published_records SELECT generation, id FROM _published_rows")
        con.unregister("_published_rows")
        con.execute("UPDATE metrics_history SET published = true, generation = ? WHERE fingerprint = ?",
                    [generation, fingerprint])
        con.execute("UPDATE record_states SET state = 'published' WHERE fingerprint = ? AND state = 'selected'",
                    [fingerprint])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def reconcile(con: duckdb.DuckDBPyConnection, published_root: Path) -> dict[str, list]:
    """Adopt or set aside generation directories the store does not know; fix ``LATEST``. Returns what it did."""
    root = Path(published_root)
    done: dict[str, list] = {"adopted": [], "set_aside": [], "latest": [], "temp_removed": []}
    if not root.exists():
        return done
    # Half-written generation dirs of a killed publish; recent ones may belong to a live process.
    done["temp_removed"] = [str(p) for p in remove_stale_temp_dirs(root)]
    known = {g for (g,) in con.execute("SELECT generation FROM publications").fetchall()}
    for generation in list_generations(root):
        if generation in known:
            continue
        path = generation_path(root, generation)
        manifest = _read_manifest(path / MANIFEST)
        fingerprint = (manifest or {}).get("fingerprint")
        built = fingerprint and con.execute(
            "SELECT drop FROM candidates WHERE fingerprint = ?", [fingerprint]).fetchone()
        already = fingerprint and con.execute(
            "SELECT generation FROM publications WHERE fingerprint = ?", [fingerprint]).fetchone()
        if manifest and built and not already and manifest.get("generation") == generation:
            ids = [r["id"] for r in manifest.get("records", [])]
            commit_publication(con, generation, fingerprint, built[0], path, ids)
            done["adopted"].append(generation)
        else:
            aside = root / f".orphan-{path.name}-{int(time.time())}"
            os.rename(path, aside)
            done["set_aside"].append(str(aside))
    newest = con.execute("SELECT max(generation) FROM publications").fetchone()[0]
    if newest is not None and latest_generation(root) != newest and generation_path(root, newest).exists():
        _write_latest(root, int(newest))
        done["latest"].append(int(newest))
    elif newest is None and (root / LATEST).exists():
        (root / LATEST).unlink()
        done["latest"].append(None)
    return done


def _read_manifest(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
