"""Great Expectations Core 1.x suites for a candidate mix, run on pandas frames.

GX's SQL datasource does not work with DuckDB, so the checks pull frames out of
DuckDB and validate them with an ephemeral pandas context. great_expectations is
imported lazily: it costs seconds at import time and Definitions must load fast.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

PROVENANCE_CLASSES = ("human_verified", "human_presumed", "synthetic_declared", "synthetic_suspected", "unknown")
HUMAN_CLASSES = ("human_verified", "human_presumed")
SYNTHETIC_CLASSES = ("synthetic_declared", "synthetic_suspected")
CANDIDATE_COLUMNS = ("id", "text", "source", "provenance_class", "content_hash", "drop", "url", "n_evidence")


@dataclass
class SuiteOutcome:
    """The result of one suite: pass/fail, a readable row per expectation, raw JSON."""

    name: str
    success: bool
    rows: list[dict[str, Any]] = field(default_factory=list)
    result_json: dict[str, Any] = field(default_factory=dict)

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [row for row in self.rows if not row["success"]]

    def markdown(self, only_failures: bool = False) -> str:
        """A markdown table: expectation, column, observed value, threshold, result."""
        rows = self.failures if only_failures else self.rows
        lines = ["| expectation | column | observed | threshold | result |", "|---|---|---|---|---|"]
        for row in rows:
            lines.append(
                f"| {row['expectation']} | {row['column'] or ''} | {row['observed']} | {row['threshold']} | "
                f"{'pass' if row['success'] else '**FAIL**'} |"
            )
        return "\n".join(lines)


def _gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    return gx


def schema_expectations(min_chars: int = 1, max_chars: int = 200_000) -> list:
    """Columns present, typed, non-null; ids unique; text length within bounds."""
    e = _gx().expectations
    out = [e.ExpectTableColumnsToMatchSet(column_set=list(CANDIDATE_COLUMNS), exact_match=False)]
    for column in ("id", "text", "source", "provenance_class", "content_hash", "drop"):
        out.append(e.ExpectColumnValuesToNotBeNull(column=column))
        out.append(e.ExpectColumnValuesToBeOfType(column=column, type_="str"))
    out.append(e.ExpectColumnValuesToBeUnique(column="id"))
    out.append(e.ExpectColumnValueLengthsToBeBetween(column="text", min_value=min_chars, max_value=max_chars))
    out.append(e.ExpectColumnValueLengthsToEqual(column="content_hash", value=64))
    return out


def provenance_expectations(human_floor: float, synthetic_cap: float, unknown_cap: float,
                            allowed_classes: tuple[str, ...] = PROVENANCE_CLASSES) -> list:
    """Classes in the allowed set, ratio floor and caps, evidence behind every record."""
    e = _gx().expectations
    return [
        e.ExpectColumnValuesToBeInSet(column="provenance_class", value_set=list(allowed_classes)),
        e.ExpectColumnMeanToBeBetween(column="is_human", min_value=human_floor, max_value=1.0),
        e.ExpectColumnMeanToBeBetween(column="is_synthetic", min_value=0.0, max_value=synthetic_cap),
        e.ExpectColumnMeanToBeBetween(column="is_unknown", min_value=0.0, max_value=unknown_cap),
        e.ExpectColumnValuesToBeBetween(column="n_evidence", min_value=1),
        e.ExpectTableRowCountToBeBetween(min_value=1),
    ]


def conservation_expectations() -> list:
    """Records in equals the sum of records in every terminal state."""
    e = _gx().expectations
    return [e.ExpectColumnPairValuesToBeEqual(column_A="records_in", column_B="terminal_total")]


def license_expectations(permitted: list[str], blocked: dict[str, str]) -> list:
    """Every record carries a license, and its ``source (license)`` pair is one the policy permits.

    ``permitted``: the pairs of this candidate that the policy permits;
    ``blocked``: the others, pair -> why. The pair names the source, so the
    failed expectation names every offending source and says why in its
    description (GX's own unexpected list is capped at 20 records).
    """
    e = _gx().expectations
    why = ("every source's license is permitted by [mix] allowed_licenses / denied_licenses" if not blocked else
           "blocked by the license policy: " + "; ".join(f"{pair}: {reason}" for pair, reason in blocked.items()))
    return [
        e.ExpectColumnValuesToNotBeNull(column="license"),
        e.ExpectColumnValuesToBeInSet(column="source_license", value_set=sorted(permitted), description=why),
    ]


def with_license_column(candidate: pd.DataFrame) -> pd.DataFrame:
    """Add ``source_license``, ``<source> (<license>)``: what the license expectation judges."""
    out = candidate.copy()
    out["source_license"] = out["source"].astype(str) + " (" + out["license"].astype(str) + ")"
    return out


def with_ratio_columns(candidate: pd.DataFrame) -> pd.DataFrame:
    """Add 0/1 columns whose means are the human, synthetic and unknown shares."""
    out = candidate.copy()
    cls = out["provenance_class"]
    out["is_human"] = cls.isin(HUMAN_CLASSES).astype("int64")
    out["is_synthetic"] = cls.isin(SYNTHETIC_CLASSES).astype("int64")
    out["is_unknown"] = (cls == "unknown").astype("int64")
    return out


def _threshold(kwargs: dict[str, Any]) -> str:
    parts = []
    for key in ("min_value", "max_value", "value_set", "value", "type_", "column_set", "column_B"):
        if kwargs.get(key) is not None:
            value = kwargs[key]
            if isinstance(value, list) and len(value) > 6:
                value = value[:6] + ["..."]
            parts.append(f"{key}={value}")
    return ", ".join(parts)


def _observed(result: dict[str, Any]) -> str:
    if "observed_value" in result:
        value = result["observed_value"]
        return f"{value:.4f}" if isinstance(value, float) else str(value)
    if "unexpected_count" in result:
        # Distinct values: 20 unexpected records of one source would otherwise show that source three times.
        sample = list(dict.fromkeys(result.get("partial_unexpected_list") or []))
        return f"{result['unexpected_count']} unexpected {sample[:3]}"
    return ""


def run_suite(name: str, frame: pd.DataFrame, expectations: list) -> SuiteOutcome:
    """Validate ``frame`` against ``expectations`` in an ephemeral GX context."""
    gx = _gx()
    context = gx.get_context(mode="ephemeral")
    try:
        context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    except Exception:  # older GX releases lack the setting; bars are only cosmetic
        pass
    batch_definition = (
        context.data_sources.add_pandas(f"{name}_source")
        .add_dataframe_asset(name=name)
        .add_batch_definition_whole_dataframe(f"{name}_batch")
    )
    suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
    result = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(suite)
    rows = []
    for item in result.results:
        config = item.expectation_config
        kwargs = dict(config.kwargs)
        rows.append({
            "expectation": config.type,
            "column": kwargs.get("column") or kwargs.get("column_A"),
            "observed": _observed(item.result or {}),
            "threshold": _threshold(kwargs),
            "success": bool(item.success),
            "description": config.description or "",
        })
    return SuiteOutcome(name=name, success=bool(result.success), rows=rows, result_json=result.to_json_dict())
