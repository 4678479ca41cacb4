"""Diversity and drift gates on mix_candidate, relative to the pinned human baseline."""

from __future__ import annotations

import pandas as pd
from dagster import AssetCheckExecutionContext, AssetCheckResult, MetadataValue, asset_check
from dagster_duckdb import DuckDBResource

from assets._meta import md_table
from assets.mix import mix_candidate
from checks._gate import current_candidate, verdict
from pipelines.resources import DUCKDB_POOL, open_store


@asset_check(
    asset=mix_candidate, name="diversity_gates", blocking=True, pool=DUCKDB_POOL,
    description=(
        "Embedding-diversity gates: Vendi ratio to the baseline >= floor, tail coverage of the baseline's rare "
        "clusters >= floor, JS divergence of the cluster histogram from the baseline <= ceiling, and Vendi drop "
        "from the previous published generation <= ceiling. A failure is what model collapse looks like: "
        "lost tails and shrinking variety. The metadata names the failed metric, by how much, and the rare "
        "clusters that lost coverage; add human data for them or hold back the synthetic source."
    ),
)
def diversity_gates(context: AssetCheckExecutionContext, duckdb: DuckDBResource) -> AssetCheckResult:
    with open_store(duckdb) as con:
        candidate = current_candidate(context, con)
        gates = candidate["report"].get("diversity_gates", [])
        report = candidate["report"].get("diversity", {})
        if not gates:
            return verdict(context, con, candidate, "diversity_gates", False,
                           "the candidate is too small to measure diversity (fewer than 2 records)", {}, {})
        failed = [g for g in gates if not g["passed"]]
        table = pd.DataFrame([{k: g.get(k) for k in ("gate", "metric", "observed", "threshold", "passed", "detail")}
                              for g in gates])
        description = ("all diversity gates passed" if not failed
                       else "; ".join(f"{g['gate']}: {g['detail']}" for g in failed))
        metadata = {
            "gates": md_table(table, max_chars=200),
            "lost_tail_clusters": MetadataValue.json(report.get("lost_tail_clusters", [])),
            "metrics": MetadataValue.json({k: v for k, v in report.items()
                                           if isinstance(v, (int, float)) and not isinstance(v, bool)}),
        }
        return verdict(context, con, candidate, "diversity_gates", not failed, description, metadata,
                       {"failed": failed})
