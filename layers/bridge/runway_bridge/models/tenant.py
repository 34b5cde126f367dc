"""Tenant limits and usage (no I/O). A bridge key is a tenant; its limits are kept with it and its
counters beside its jobs. What each limit means and how it is enforced: docs/tenants.md.

- `max_in_flight`: jobs sent to Runway and not yet finished. A job over it waits QUEUED and is
  admitted in order when one of the tenant's jobs ends.
- `max_jobs_per_day`, `max_output_seconds_per_day`, `max_credits_per_day`: per UTC day, counted when
  a job is accepted. A create over one of them answers 429 with `Retry-After` (seconds until the
  next UTC midnight) and stores nothing. A job that never reached Runway gives its share back.

A tenant may also have an output destination (its own bucket and prefix), kept beside its limits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from runway_bridge.models.operations import REGISTRY, Operation


class TenantLimits(BaseModel):
    """A tenant's limits; None means unlimited."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    max_in_flight: int | None = Field(default=None, ge=1, alias="maxInFlight")
    max_jobs_per_day: int | None = Field(default=None, ge=0, alias="maxJobsPerDay")
    max_output_seconds_per_day: int | None = Field(default=None, ge=0, alias="maxOutputSecondsPerDay")
    max_credits_per_day: float | None = Field(default=None, ge=0, alias="maxCreditsPerDay")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


UNLIMITED: Final = TenantLimits()

# S3 bucket names (3-63 lower-case letters, digits, dots and hyphens; starting and ending with a
# letter or digit), and a key prefix of S3's safe characters only (it becomes part of every key).
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX = re.compile(r"[A-Za-z0-9!_.*'()/-]*")
OUTPUT_PREFIX_MAX_CHARS: Final = 512


class OutputDestination(BaseModel):
    """Where a tenant's outputs are copied instead of the bridge's bucket: `<prefix>outputs/<jobId>/
    <index>.<ext>` in `bucket` (docs/tenants.md, "Output destination"). `prefix` is empty or ends
    with "/"."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    prefix: str = ""

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, bucket: str) -> str:
        if not _BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
            raise ValueError(f"{bucket!r} is not an S3 bucket name")
        return bucket

    @field_validator("prefix")
    @classmethod
    def _safe_prefix(cls, prefix: str) -> str:
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        segments = prefix.split("/")[:-1]
        if (
            len(prefix) > OUTPUT_PREFIX_MAX_CHARS
            or not _PREFIX.fullmatch(prefix)
            or any(segment in ("", ".", "..") for segment in segments)
        ):
            raise ValueError(
                f"prefix {prefix!r}: at most {OUTPUT_PREFIX_MAX_CHARS} characters of letters, digits and "
                "!_.*'()-, in non-empty segments separated by '/'"
            )
        return prefix

    @classmethod
    def parse(cls, uri: str) -> OutputDestination:
        """`s3://bucket` or `s3://bucket/prefix/` (ValueError otherwise)."""
        if not uri.startswith("s3://"):
            raise ValueError(f"{uri!r}: give s3://bucket/prefix/")
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        return cls(bucket=bucket, prefix=prefix)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass(frozen=True)
class TenantProfile:
    """What a submit needs to know of its tenant, read in one go: its limits and where its outputs
    go (None: the bridge's own bucket)."""

    limits: TenantLimits = UNLIMITED
    output_destination: OutputDestination | None = None


# Limit names as they appear in error codes, counters and the usage view.
DAILY_LIMIT_CODES: Final = {
    "jobs": "daily_jobs_limit",
    "outputSeconds": "daily_output_seconds_limit",
    "credits": "daily_credits_limit",
}


class UsageCharge(BaseModel):
    """What one job counts against its tenant's day (kept on the job, so it can be given back)."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    day: str  # UTC date, YYYY-MM-DD
    output_seconds: int = Field(alias="outputSeconds")
    credits: float = 0.0


def usage_day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def seconds_until_next_day(moment: datetime) -> int:
    """Retry-After for a daily limit: whole seconds until the next UTC midnight (at least 1)."""
    utc = moment.astimezone(UTC)
    midnight = (utc + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, math.ceil((midnight - utc).total_seconds()))


def output_seconds(operation: Operation, runway_body: Mapping[str, Any]) -> int:
    duration = runway_body.get("duration")
    if isinstance(duration, int) and not isinstance(duration, bool) and duration > 0:
        return duration
    # Not in the body: the operation's typical output length (models/operations.py).
    return REGISTRY[operation].default_output_seconds


def charge_for(
    operation: Operation,
    model: str,
    runway_body: Mapping[str, Any],
    *,
    at: datetime,
    credit_prices: Mapping[str, float],
) -> UsageCharge:
    """The job's charge against the day of `at`. Credits come only from the operator's price table
    (model -> credits per output second); a model missing from it counts 0 credits."""
    seconds = output_seconds(operation, runway_body)
    price = credit_prices.get(model, 0.0)
    return UsageCharge(day=usage_day(at), output_seconds=seconds, credits=round(seconds * price, 3))


class DailyUsage(BaseModel):
    """One UTC day's counters of a tenant."""

    model_config = ConfigDict(populate_by_name=True)

    day: str
    jobs: int = 0
    output_seconds: int = Field(default=0, alias="outputSeconds")
    credits: float = 0.0


def exceeded_limit(limits: TenantLimits, used: DailyUsage, charge: UsageCharge) -> str | None:
    """The first daily limit `charge` would break on top of `used` (its counter name), or None."""
    if limits.max_jobs_per_day is not None and used.jobs + 1 > limits.max_jobs_per_day:
        return "jobs"
    if (
        limits.max_output_seconds_per_day is not None
        and used.output_seconds + charge.output_seconds > limits.max_output_seconds_per_day
    ):
        return "outputSeconds"
    if limits.max_credits_per_day is not None and used.credits + charge.credits > limits.max_credits_per_day:
        return "credits"
    return None


class UsageView(BaseModel):
    """`GET /v1/usage`: the tenant's counters against its limits."""

    model_config = ConfigDict(populate_by_name=True)

    tenant_id: str = Field(alias="tenantId")
    day: str
    resets_at: datetime = Field(alias="resetsAt")
    limits: TenantLimits
    in_flight: int = Field(alias="inFlight")
    queued: int
    today: DailyUsage

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)
