"""Launchpad-friendly run config. Defaults come from ``anchormix.toml`` so a user
changes a value for one run in the Launchpad without editing the file; the
values are validated by the same code that validates the file."""

from __future__ import annotations

from typing import Optional

from dagster import Config
from pydantic import Field

from anchormix.diversity_gate import GateSettings
from anchormix.mix import MixPolicy
from pipelines.settings import SETTINGS

_mix, _gates = SETTINGS.mix, SETTINGS.gates


class MixConfig(Config):
    """The mix policy and the gate thresholds the candidate is judged by."""

    human_floor: float = Field(default=_mix.human_floor, description="Minimum human share of the mix")
    synthetic_cap: float = Field(default=_mix.synthetic_cap, description="Maximum synthetic share")
    unknown_cap: float = Field(default=_mix.unknown_cap, description="Maximum unknown share")
    target_size: int = Field(default=_mix.target_size, description="Records wanted in the mix")
    seed: int = Field(default=_mix.seed, description="Sampler seed (same seed, same mix)")
    mode: str = Field(default=_mix.mode, description="accumulate (keep earlier human records) or replace")
    fresh_share: float = Field(default=_mix.fresh_share,
                               description="accumulate: share of the mix offered to tonight's human records")
    alpha: float = Field(default=_gates.alpha,
                         description="Family-wise rate at which healthy candidates may be blocked by the diversity gate")
    null_draws: int = Field(default=_gates.null_draws, description="Healthy baseline subsamples per null distribution")
    vendi_ratio_floor: Optional[float] = Field(default=_gates.vendi_ratio_floor,
                                               description="Optional absolute floor on Vendi / baseline Vendi (off when empty)")
    tail_coverage_floor: Optional[float] = Field(default=_gates.tail_coverage_floor,
                                                 description="Optional absolute floor on rare-cluster coverage")
    js_baseline_ceiling: Optional[float] = Field(default=_gates.js_baseline_ceiling,
                                                 description="Optional absolute ceiling on JS divergence (bits)")
    max_drop_from_previous: Optional[float] = Field(default=_gates.max_drop_from_previous,
                                                    description="Optional ceiling on the size-matched Vendi ratio's fall")
    detector_auroc_floor: float = Field(default=SETTINGS.detector.auroc_floor,
                                        description="Held-out detector AUROC below which suspected labels are not trusted")
    def policy(self) -> MixPolicy:
        raw = {**SETTINGS.section("mix"), **{k: getattr(self, k) for k in
               ("human_floor", "synthetic_cap", "unknown_cap", "target_size", "seed", "mode", "fresh_share")}}
        return MixPolicy.from_mapping(raw)

    def gates(self) -> GateSettings:
        """The [gates] section with this run's overrides, validated like the file."""
        raw = {**SETTINGS.section("gates"), "alpha": self.alpha, "null_draws": self.null_draws}
        for key in ("vendi_ratio_floor", "tail_coverage_floor", "js_baseline_ceiling", "max_drop_from_previous"):
            raw[key] = getattr(self, key)
        return GateSettings.from_mapping(raw)


class BaselineConfig(Config):
    """Pinning the human baseline. A pinned baseline is replaced only when asked."""

    replace: bool = Field(default=False, description="Re-pin even though a baseline exists (never silent)")
    through_drop: str = Field(default="", description="Use accepted human records up to this drop (default: all)")
