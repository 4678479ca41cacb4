"""The attribution table of a generation: who to credit, under which license, for how many records.

One row per (source, license) of the published records: a source whose license
changed between nights shows both, each with its own count. Rights holder and
creator come from the source registry; a source the registry no longer has
keeps its records' license and is credited with nothing else.
"""

from __future__ import annotations

import pandas as pd

from anchormix.provenance.registry import Registry

COLUMNS = ("source", "license", "rights_holder", "creator", "records")


def attribution_table(records: pd.DataFrame, registry: Registry | None = None) -> pd.DataFrame:
    """``[source, license, rights_holder, creator, records]`` of ``records`` (needs ``source`` and ``license``)."""
    counts = (records.groupby(["source", "license"], dropna=False).size().reset_index(name="records")
              .sort_values(["records", "source"], ascending=[False, True], kind="stable"))
    entries = {name: registry.get(name) for name in counts["source"]} if registry is not None else {}
    counts["rights_holder"] = [getattr(entries.get(s), "rights_holder", "") for s in counts["source"]]
    counts["creator"] = [getattr(entries.get(s), "creator", "") for s in counts["source"]]
    counts["records"] = counts["records"].astype("int64")
    return counts[list(COLUMNS)].reset_index(drop=True)


def generation_licenses(attribution: pd.DataFrame) -> list[str]:
    """The distinct licenses of a generation, sorted: what its Croissant ``license`` lists."""
    return sorted(set(attribution["license"].astype(str)))
