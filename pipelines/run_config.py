"""Launchpad-friendly run config, derived from the settings model.

``MixConfig`` is generated from the ``[mix]``, ``[gates]`` and ``[detector]``
section models: each field's type and description come from the model, its
default from the loaded ``anchormix.toml``, so a user changes a value for one
run in the Launchpad without editing the file. A run's values are validated by
the same section models that validate the file, so a bad value fails with its
dotted key (``mix.human_floor: must be <= 1.0, got 1.5``).

The class is built on first use (``from pipelines.run_config import MixConfig``),
which is when the Definitions are built, from :func:`pipelines.settings.settings`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from dagster import Config
from pydantic import Field, create_model

from anchormix.diversity_gate import FLOOR_KEYS, GateSettings
from anchormix.mix import MixPolicy
from anchormix.settings_base import revalidated
from pipelines.settings import launchpad_fields, settings

# Launchpad-visible fields per section (per_source_caps and the gate's cost knobs stay in the file).
MIX_FIELDS = ("human_floor", "synthetic_cap", "unknown_cap", "target_size", "seed", "mode", "fresh_share")
GATE_FIELDS = ("alpha", "null_draws", *FLOOR_KEYS)
DETECTOR_FIELDS = {"auroc_floor": "detector_auroc_floor"}


class _MixConfigBase(Config):
    """The mix policy and the gate thresholds the candidate is judged by."""

    def policy(self) -> MixPolicy:
        """The [mix] section with this run's values, validated like the file."""
        return revalidated(settings().mix, {k: getattr(self, k) for k in MIX_FIELDS}, "mix")

    def gates(self) -> GateSettings:
        """The [gates] section with this run's values, validated like the file."""
        return revalidated(settings().gates, {k: getattr(self, k) for k in GATE_FIELDS}, "gates")

    def detector_floor(self) -> float:
        """``detector_auroc_floor`` validated as ``[detector] auroc_floor``."""
        return revalidated(settings().detector, {"auroc_floor": self.detector_auroc_floor}, "detector").auroc_floor


@cache
def mix_config() -> type[Config]:
    """``MixConfig``, with defaults from the loaded file."""
    s = settings()
    return create_model(
        "MixConfig", __base__=_MixConfigBase, __module__=__name__, __doc__=_MixConfigBase.__doc__,
        **launchpad_fields(s.mix, MIX_FIELDS), **launchpad_fields(s.gates, GATE_FIELDS),
        **launchpad_fields(s.detector, DETECTOR_FIELDS),
    )


def __getattr__(name: str) -> Any:
    if name == "MixConfig":
        return mix_config()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class BaselineConfig(Config):
    """Pinning the human baseline. A pinned baseline is replaced only when asked."""

    replace: bool = Field(default=False, description="Re-pin even though a baseline exists (never silent)")
    through_drop: str = Field(default="", description="Use accepted human records up to this drop (default: all)")
