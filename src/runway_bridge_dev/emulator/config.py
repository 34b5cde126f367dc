"""Settings of the Runway emulator. Every field can be changed while it runs
(`RunwayEmulator.update(...)` or `PATCH /_emulator/config`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_API_KEY = "emulator-key"
# The fast profile finishes a task in about this many seconds (emulator clock) unless overridden.
FAST_PROFILE_TOTAL_S = 6.0
# Realistic profile: spread of a task's total duration, from Runway's publicly reported timings.
REALISTIC_MIN_S = 30.0
REALISTIC_MAX_S = 180.0
# Kinds of task life `EmulatorConfig.lives` can mix (see lifecycle.LIFE_KINDS for what each does).
LifeKind = Literal["realistic", "stairs", "stall", "silent", "noisy"]


class EmulatorConfig(BaseModel):
    """How the emulated Runway behaves. Defaults give a fault-free, fast emulator."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    api_key: str = Field(default=DEFAULT_API_KEY, min_length=1)
    profile: Literal["fast", "realistic"] = "fast"
    # Total seconds (emulator clock) per model, overriding the profile; exact, no spread.
    durations: dict[str, float] | None = None
    min_duration_s: float | None = Field(default=None, gt=0)
    max_duration_s: float | None = Field(default=None, gt=0)
    # Multiplies the emulator's sense of elapsed time: 20.0 makes a 6 s task take 0.3 s.
    clock_speed: float = Field(default=1.0, gt=0)
    seed: int | None = None
    # A mix of task lives, kind -> weight (e.g. {"stall": 1, "silent": 1}): each task draws its kind
    # and replaces the profile's plan with one of that kind (queue phase, then its own progress).
    # None: every task follows `profile`.
    lives: dict[LifeKind, float] | None = None
    # Twin tasks: when set, a task's life is drawn from the seed plus a digest of its request body,
    # so two creates with identical bodies get identical lives (ids still differ).
    twin_lives: bool = False

    concurrency_per_model: int | None = Field(default=None, ge=1)
    daily_cap: int | None = Field(default=None, ge=0)
    failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)

    output_url_ttl_s: float = Field(default=3600.0, gt=0)
    output_padding_bytes: int = Field(default=0, ge=0)

    # Faults.
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    error_statuses: list[int] = Field(default_factory=lambda: [500, 502, 503, 504, 429], min_length=1)
    # The same, for creates only (POST /v1/<operation>): a storm that leaves task reads alone.
    create_error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    fail_next: list[int] = Field(default_factory=list)
    retry_after_s: float | None = Field(default=None, ge=0)
    latency_s: float = Field(default=0.0, ge=0.0)
    drop_next_creates: int = Field(default=0, ge=0)
    drop_create_rate: float = Field(default=0.0, ge=0.0, le=1.0)

    passthrough: bool = False
    # Take loopback input URLs (http too) where Runway takes HTTPS, and fetch each at create: a 400
    # if one cannot be fetched; tasks record what they fetched (emulator/inputs.py). The local stack
    # and `runway-bridge dev` turn it on (presigned GETs of s3:// inputs point at moto on loopback).
    fetch_inputs: bool = False

    @field_validator("error_statuses", "fail_next")
    @classmethod
    def _http_error_statuses(cls, statuses: list[int]) -> list[int]:
        for status in statuses:
            if not 400 <= status <= 599:
                raise ValueError(f"{status} is not an HTTP error status (400-599)")
        return statuses

    @field_validator("durations")
    @classmethod
    def _positive_durations(cls, durations: dict[str, float] | None) -> dict[str, float] | None:
        if durations and any(seconds <= 0 for seconds in durations.values()):
            raise ValueError("durations must be positive")
        return durations

    @field_validator("lives")
    @classmethod
    def _weighted_mix(cls, lives: dict[str, float] | None) -> dict[str, float] | None:
        if lives is None:
            return None
        if any(weight < 0 for weight in lives.values()) or sum(lives.values()) <= 0:
            raise ValueError("lives needs non-negative weights, at least one of them positive")
        return lives

    @model_validator(mode="after")
    def _ordered_spread(self) -> EmulatorConfig:
        if (
            self.min_duration_s is not None
            and self.max_duration_s is not None
            and self.min_duration_s > self.max_duration_s
        ):
            raise ValueError("min_duration_s must not exceed max_duration_s")
        return self
