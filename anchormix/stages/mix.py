"""Build the candidate mix of a drop: sample under the policy, measure its
diversity against the baseline and the previous publication, and record the
terminal state of every record. Gates judge the stored candidate afterwards."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, is_dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from anchormix.embed import EmbeddingSettings
# A record's license: its kept license, as its source was registered when the record was first labelled.
from anchormix.provenance.licenses_kept import LICENSE_SQL
from anchormix.stages.diversity import load_pinned, pool_frame
from anchormix.stages.embed import vectors_for
from anchormix.stages.states import terminal_states
from anchormix.store import PUBLISHED_PROBES_SQL, watermark
from anchormix.store_writes import insert_rows, transaction



def _jsonable(value):
    if is_dataclass(value):
        return {k: _jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def previous_publication(con: duckdb.DuckDBPyConnection) -> dict | None:
    """The newest published generation with its candidate's stored report."""
    row = con.execute(
        "SELECT p.generation, p.fingerprint, c.report FROM publications p JOIN candidates c USING (fingerprint) "
        "ORDER BY p.generation DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    return {"generation": row[0], "fingerprint": row[1], "report": json.loads(row[2])["diversity"]}


def candidate_pool(con: duckdb.DuckDBPyConnection, drop: str) -> pd.DataFrame:
    """Eligible records with their baseline cluster and whether the current generation holds them."""
    pool = pool_frame(con, drop, with_text=False)
    clusters = con.execute("SELECT id, cluster FROM clusters").df()
    # "Kept" means in the current generation: a record retired from it competes again as an older record.
    published = set(r[0] for r in con.execute(
        "SELECT id FROM published_records WHERE generation = (SELECT max(generation) FROM publications)").fetchall())
    pool = pool.merge(clusters, on="id", how="left")
    pool["cluster"] = pool["cluster"].fillna(-1).astype("int64")
    pool["previously_published"] = pool["id"].isin(published)
    return pool


def fingerprint_of(drop: str, selected: pd.DataFrame, policy: dict, thresholds: dict, mark: int,
                   probes: list[str] | None = None) -> str:
    """A hash that changes when the selection, the probe set, the policy, the gates or the input change."""
    digest = hashlib.sha256()
    digest.update(json.dumps([drop, policy, thresholds, mark], sort_keys=True, default=str).encode())
    for rid, chash in sorted(zip(selected["id"], selected["content_hash"])):
        digest.update(f"{rid}\t{chash}\n".encode())
    for rid in sorted(probes or []):
        digest.update(f"probe\t{rid}\n".encode())
    return digest.hexdigest()[:24]


def withhold_probes(con: duckdb.DuckDBPyConnection, pool: pd.DataFrame, tail: list[int], publish) -> pd.DataFrame:
    """The tail probe set of this candidate (:func:`anchormix.probes.select_probes`), kept stable from the
    latest publication's; ``publish`` is the ``[publish]`` section (None: no probe set)."""
    from anchormix.probes import select_probes

    if publish is None:
        return select_probes(pool, [], per_cluster=0, max_total=0, cluster_share=0.0)
    previous = [r[0] for r in con.execute(
        "SELECT id FROM candidate_probes WHERE fingerprint = "
        "(SELECT fingerprint FROM publications ORDER BY generation DESC LIMIT 1)").fetchall()]
    published = [r[0] for r in con.execute("SELECT DISTINCT id FROM published_records").fetchall()]
    return select_probes(pool, tail, per_cluster=publish.probe_per_cluster, max_total=publish.probe_max,
                         cluster_share=publish.probe_cluster_share, seed=publish.probe_seed, previous=previous,
                         ever_published=published)


def former_probe(con: duckdb.DuckDBPyConnection, pool: pd.DataFrame) -> pd.Series:
    """Which pool records were ever a published generation's probe, by id or content hash: never trainable.

    A probe can leave the set (``probe_max`` shared anew, a lower
    ``probe_per_cluster`` or share, a replace night) while model teams keep
    scoring the old probe files, so it is withheld for good; it stays ``held``
    with its own reason (:mod:`anchormix.stages.states`).
    """
    former = con.execute(PUBLISHED_PROBES_SQL).df()
    return pool["id"].isin(former["id"]) | pool["content_hash"].isin(former["content_hash"].dropna())


def probe_frame(con: duckdb.DuckDBPyConnection, fingerprint: str) -> pd.DataFrame:
    """The candidate's tail probe records in the shape the publisher writes (``probes/probes.parquet``)."""
    return con.execute(
        """
        SELECT r.id, n.norm_text AS text, r.source, p.class AS provenance_class, n.content_hash, r.drop, r.url,
               """ + LICENSE_SQL + """ AS license, cp.cluster, cp.label AS cluster_label
        FROM candidate_probes cp JOIN raw_records r USING (id) JOIN normalized n USING (id)
        LEFT JOIN provenance p USING (id)
        WHERE cp.fingerprint = ? ORDER BY cp.cluster, r.id
        """,
        [fingerprint],
    ).df()


def value_of_sources(baseline, vectors: np.ndarray, selected: pd.DataFrame, tail: list[int], tail_rule,
                     settings) -> dict:
    """The value report of the candidate's human sources (:func:`anchormix.value.source_values`), JSON-ready."""
    from anchormix.mix import provenance_group
    from anchormix.value import source_values

    if len(selected) < 2:
        return {"sources": [], "notes": ["fewer than two records in the mix"]}
    return source_values(vectors, baseline.assign(vectors), selected["source"].astype(str).tolist(),
                         [provenance_group(c) for c in selected["provenance_class"]], baseline.hist, tail, settings,
                         rule=tail_rule, clusters=list(baseline.clusters)).to_dict()


def _previous_vectors(con: duckdb.DuckDBPyConnection, previous: dict | None, embedding: EmbeddingSettings):
    """Vectors and ids of the previous published generation (None for the first)."""
    if previous is None:
        return None, set()
    frame = con.execute(
        "SELECT p.id, n.content_hash FROM published_records p JOIN normalized n USING (id) WHERE p.generation = ?",
        [previous["generation"]]).df()
    if frame.empty:
        return None, set()
    return vectors_for(con, frame, embedding), set(frame["id"])


def judge_diversity(baseline, vectors, selected: pd.DataFrame, gates, tail_rule, previous_vectors,
                    previous_ids: set, previous_report: dict | None, cache_dir: Path | None = None
                    ) -> tuple[dict, dict | None]:
    """The calibrated verdict on the whole candidate, and the early-warning verdict on its new records only."""
    from anchormix.diversity_gate import judge_candidate
    from anchormix.mix import provenance_group

    tail_mass = tail_rule.tail_mass if tail_rule is not None else 0.2
    groups = [provenance_group(c) for c in selected["provenance_class"]]
    ids = selected["id"].tolist()
    prev_ratio = (previous_report or {}).get("vendi_ratio_matched")
    verdict = judge_candidate(baseline, vectors, groups, gates, tail_mass, previous=previous_vectors, ids=ids,
                              previous_vendi_ratio=prev_ratio, cache_dir=cache_dir).to_dict()
    new = ~selected["id"].isin(previous_ids).to_numpy()
    new_verdict = None
    if previous_vectors is not None and 0 < new.sum() < len(selected) and new.sum() >= 10:
        idx = np.flatnonzero(new)
        new_verdict = judge_candidate(baseline, vectors[idx], [groups[i] for i in idx], gates, tail_mass,
                                      ids=[ids[i] for i in idx], cache_dir=cache_dir).to_dict()
    return verdict, new_verdict


def build_candidate(con: duckdb.DuckDBPyConnection, drop: str, policy, gates, detector_floor: float,
                    baseline_dir: Path, embedding: EmbeddingSettings, tail_rule=None, *, value=None,
                    publish=None) -> dict:
    """Sample, measure, judge and store the candidate of ``drop``; returns its summary.

    ``gates`` is a :class:`anchormix.diversity_gate.GateSettings`. The calibrated
    diversity verdict is computed here, where the vectors are at hand, and
    stored with the candidate; the ``diversity_gates`` check reads it. So is
    the value of each human source (``value``: the ``[value]`` section). The
    tail probe set (``publish``: the ``[publish]`` section; None: none) is
    withheld from the pool before sampling, so no probe can enter the mix, and so
    is every record that was ever in a published probe set (:func:`former_probe`).
    """
    from anchormix.diversity import diversity_report, tail_clusters
    from anchormix.mix import sample_mix
    from anchormix.probes import probe_summary

    baseline = load_pinned(baseline_dir, embedding)
    tail_mass = tail_rule.tail_mass if tail_rule is not None else 0.2
    tail = tail_clusters(baseline.hist, tail_mass).tolist()
    pool = candidate_pool(con, drop)
    probes = withhold_probes(con, pool, tail, publish)
    pool_hashes = pool[["id", "content_hash"]]
    pool = pool[~pool["id"].isin(probes["id"]) & ~former_probe(con, pool)]
    result = sample_mix(pool, policy, np.asarray(baseline.weights), drop, protected_clusters=tail)
    selected = result.selected.merge(pool[["id", "content_hash"]], on="id", how="left", suffixes=("", "_pool"))
    texts = dict(con.execute("SELECT id, norm_text FROM normalized WHERE id IN (SELECT unnest(?))",
                             [selected["id"].tolist()]).fetchall()) if len(selected) else {}
    selected["norm_text"] = selected["id"].map(texts)
    previous = previous_publication(con)
    previous_vectors, previous_ids = _previous_vectors(con, previous, embedding)
    vectors = vectors_for(con, selected, embedding)
    report = diversity_report(
        vectors, selected["norm_text"].tolist(), baseline,
        previous_hist=np.asarray(previous["report"]["cluster_hist"]) if previous else None, rule=tail_rule,
    ) if len(selected) > 1 else {}
    verdict, new_verdict = ({}, None)
    if len(selected) > 1:
        verdict, new_verdict = judge_diversity(baseline, vectors, selected, gates, tail_rule, previous_vectors,
                                               previous_ids, previous["report"] if previous else None,
                                               cache_dir=Path(baseline_dir) / "nulls")
        report["vendi_ratio_matched"] = _matched_ratio(verdict)
    value_report = value_of_sources(baseline, vectors, selected, tail, tail_rule, value)
    probes_report = {**probe_summary(probes, baseline.clusters),
                     "baseline_id": f"{baseline.model_id}#{baseline.digest[:16]}"}
    labels = {int(c["cluster"]): c["label"] for c in baseline.clusters}
    gate_rows = verdict.get("rows", [])
    tonight = selected["drop"].astype(str) == str(drop)
    intake = {"added": int(getattr(result, "added", int((~selected["id"].isin(previous_ids)).sum()))),
              "retired": int(len(getattr(result, "retired", []))),
              "tonight_selected": int(tonight.sum()),
              "tonight_eligible": int((pool["drop"].astype(str) == str(drop)).sum()),
              "notes": list(result.notes) + held_back_notes(result.held, drop)}
    policy_dict = _jsonable(policy.to_dict() if hasattr(policy, "to_dict") else policy)
    threshold_dict = {**_jsonable(gates.to_dict()), "detector_auroc_floor": detector_floor}
    mark = watermark(con, drop)
    fingerprint = fingerprint_of(drop, selected, policy_dict, threshold_dict, mark, probes["id"].tolist())
    # Rebuilding an already-published candidate (same fingerprint) keeps its generation.
    published_as = con.execute("SELECT generation FROM publications WHERE fingerprint = ?", [fingerprint]).fetchone()
    generation = published_as[0] if published_as else (
        con.execute("SELECT coalesce(max(generation), 0) FROM publications").fetchone()[0] + 1)
    stored_report = {
        "diversity": _jsonable(report),
        "diversity_gates": _jsonable(gate_rows),
        "diversity_verdict": _jsonable(verdict),
        "new_records_verdict": _jsonable(new_verdict),
        "intake": _jsonable(intake),
        "value": _jsonable(value_report),
        "probes": _jsonable(probes_report),
        "shares": _jsonable(result.shares),
        "per_source": _jsonable(result.per_source.to_dict(orient="records")),
        "previous_generation": previous["generation"] if previous else None,
        "baseline": {"model_id": baseline.model_id, "n": int(baseline.n),
                     "metrics": {"vendi": float(baseline.vendi), "effective_rank": float(baseline.effective_rank),
                                 "cluster_entropy": float(baseline.cluster_entropy)}},
    }
    metrics = {k: v for k, v in report.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    metrics.update({f"p_{r['gate']}": float(r["p_value"]) for r in gate_rows if r.get("p_value") is not None
                    and not r["gate"].startswith("tail ")})
    metrics.update({"records_added": float(intake["added"]), "records_retired": float(intake["retired"])})
    metrics.update({f"share_{k}": float(v) for k, v in result.shares.items()})
    metrics["n_records"] = float(len(selected))
    metrics["probe_records"] = float(len(probes))
    with transaction(con):
        for table in ("candidates", "candidate_records", "candidate_probes", "record_states", "metrics_history"):
            con.execute(f"DELETE FROM {table} WHERE fingerprint = ?", [fingerprint])
        con.execute(
            "INSERT INTO candidates (fingerprint, drop, policy, thresholds, watermark, n_records, feasible, "
            "infeasible_reasons, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [fingerprint, drop, json.dumps(policy_dict), json.dumps(threshold_dict), mark, len(selected),
             bool(result.feasible), json.dumps(list(result.infeasible_reasons)), json.dumps(stored_report)],
        )
        insert_rows(con, "candidate_records", {"fingerprint": [fingerprint] * len(selected),
                                               "id": selected["id"].tolist(), "reason": selected["reason"].tolist()})
        insert_rows(con, "candidate_probes", {"fingerprint": [fingerprint] * len(probes),
                                              "id": probes["id"].tolist(),
                                              "cluster": probes["cluster"].astype("int32").tolist(),
                                              "label": [labels.get(int(c), f"cluster {c}") for c in probes["cluster"]],
                                              "kept": probes["kept"].astype(bool).tolist(),
                                              "content_hash": probes["id"].map(
                                                  pool_hashes.set_index("id")["content_hash"]).tolist()})
        states = terminal_states(con, drop, fingerprint)
        insert_rows(con, "record_states", states.assign(fingerprint=fingerprint, n=states["n"].astype("int64")))
        insert_rows(con, "metrics_history", {
            "generation": [generation] * len(metrics), "fingerprint": [fingerprint] * len(metrics),
            "drop": [drop] * len(metrics), "metric": list(metrics), "value": [float(v) for v in metrics.values()],
            "published": [published_as is not None] * len(metrics)})
    return {
        "fingerprint": fingerprint, "drop": drop, "generation": generation, "n_records": len(selected),
        "pool_size": len(pool_hashes),  # the stage's rows in: every record it chose from, probes included
        "feasible": bool(result.feasible), "infeasible_reasons": list(result.infeasible_reasons),
        "shares": result.shares, "per_source": result.per_source, "report": report, "gates": gate_rows,
        "verdict": verdict, "new_records_verdict": new_verdict, "intake": intake,
        "states": states, "previous": previous, "policy": policy_dict, "thresholds": threshold_dict,
        "baseline_metrics": stored_report["baseline"]["metrics"],
        "value": value_report, "probes": probes_report,
    }


ADVICE = {
    "unknown_cap": "its records are `unknown` (neither a verified manifest, a high-trust registered archive nor a "
                   "confident detector verdict; `anchormix explain <id>` gives a record's reason) and unknown "
                   "records are capped at mix.unknown_cap: register the source (kind, license, trust_tier) in the "
                   "registry, or sign its records, so they can count as human",
    "synthetic_cap": "synthetic records are capped at mix.synthetic_cap",
    "cluster_at_baseline_share": "synthetic records only fill baseline clusters below their human share",
    "no_baseline_cluster": "synthetic records outside every baseline cluster are never admitted",
    "mix_full": "the mix is full: raise mix.target_size or mix.fresh_share",
}


def held_back_notes(held: pd.DataFrame, drop: str) -> list[str]:
    """Per source, tonight's records a cap or rule held back, and what to do about it."""
    if held is None or held.empty:
        return []
    tonight = held[held["drop"].astype(str) == str(drop)]
    notes = []
    for (source, reason), n in tonight.groupby(
            ["source", tonight["held_reason"].str.replace(r"\(.*\)$", "", regex=True)]).size().items():
        if reason in ADVICE:
            notes.append(f"source {source}: {n} of tonight's records held ({reason}); {ADVICE[reason]}")
    return notes


def _matched_ratio(verdict: dict) -> float | None:
    """Candidate Vendi over the healthy median at the same size: 1.0 is healthy, whatever the size."""
    row = next((r for r in verdict.get("rows", []) if r["gate"] == "vendi"), None)
    if not row or not row.get("null_median"):
        return None
    return float(row["observed"]) / float(row["null_median"])


def latest_candidate(con: duckdb.DuckDBPyConnection, drop: str) -> dict | None:
    """The most recently built candidate of ``drop``."""
    row = con.execute(
        "SELECT fingerprint, watermark, policy, thresholds, report, n_records FROM candidates WHERE drop = ? "
        "ORDER BY created_at DESC LIMIT 1",
        [drop],
    ).fetchone()
    if row is None:
        return None
    return {"fingerprint": row[0], "watermark": row[1], "policy": json.loads(row[2]),
            "thresholds": json.loads(row[3]), "report": json.loads(row[4]), "n_records": row[5], "drop": drop}


def candidate_frame(con: duckdb.DuckDBPyConnection, fingerprint: str) -> pd.DataFrame:
    """The candidate's records in the shape the GX suites and the publisher expect.

    ``license`` is the license kept for the record in ``record_licenses``: its
    source's registered license when the record was first labelled
    (:mod:`anchormix.provenance.licenses_kept`), so a later registry edit, which
    relabels history and rewrites its ``registry`` evidence, does not relicense
    records already taken in; ``NOASSERTION`` when the source was not registered.
    """
    return con.execute(
        """
        SELECT r.id, n.norm_text AS text, r.source, p.class AS provenance_class, n.content_hash, r.drop, r.url,
               (SELECT count(*) FROM evidence e WHERE e.id = r.id) AS n_evidence, c.reason AS selection_reason,
               """ + LICENSE_SQL + """ AS license
        FROM candidate_records c JOIN raw_records r USING (id) JOIN normalized n USING (id)
        LEFT JOIN provenance p USING (id)
        WHERE c.fingerprint = ? ORDER BY r.id
        """,
        [fingerprint],
    ).df()
