"""Launchpad-friendly run config. Defaults come from ``anchormix.toml`` so a user
changes a value for one run in the Launchpad without editing the file; the
values are validated by the same code that validates the file."""

from __future__ import annotations

from dagster import Config
from pydantic import Field

from anchormix.diversity import GateThresholds
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
    vendi_ratio_floor: float = Field(default=_gates.vendi_ratio_floor, description="Vendi / baseline Vendi floor")
    tail_coverage_floor: float = Field(default=_gates.tail_coverage_floor, description="Rare-cluster coverage floor")
    js_baseline_ceiling: float = Field(default=_gates.js_baseline_ceiling, description="JS divergence ceiling (bits)")
    max_drop_from_previous: float = Field(default=_gates.max_drop_from_previous,
                                          description="Largest relative Vendi drop from the previous generation")
    detector_auroc_floor: float = Field(default=SETTINGS.detector.auroc_floor,
                                        description="Held-out detector AUROC below which suspected labels are not trusted")
    def policy(self) -> MixPolicy:
        raw = {**SETTINGS.section("mix"), **{k: getattr(self, k) for k in
               ("human_floor", "synthetic_cap", "unknown_cap", "target_size", "seed", "mode")}}
        return MixPolicy.from_mapping(raw)

    def thresholds(self) -> GateThresholds:
        return GateThresholds.from_mapping({k: getattr(self, k) for k in GateThresholds.KEYS})


class BaselineConfig(Config):
    """Pinning the human baseline. A pinned baseline is replaced only when asked."""

    replace: bool = Field(default=False, description="Re-pin even though a baseline exists (never silent)")
    through_drop: str = Field(default="", description="Use accepted human records up to this drop (default: all)")
