"""A tenant's usage against its limits (`GET /v1/usage`, `runway-bridge usage`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runway_bridge.logic.ports import Clock, JobStore, TenantDirectory
from runway_bridge.models.tenant import UsageView, usage_day


class UsageService:
    def __init__(self, *, jobs: JobStore, tenants: TenantDirectory, clock: Clock) -> None:
        self._jobs = jobs
        self._tenants = tenants
        self._clock = clock

    def usage(self, tenant_id: str) -> UsageView:
        now = self._clock()
        day = usage_day(now)
        start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
        return UsageView(
            tenant_id=tenant_id,
            day=day,
            resets_at=start + timedelta(days=1),
            limits=self._tenants.limits(tenant_id),
            in_flight=self._jobs.in_flight(tenant_id),
            queued=self._jobs.queued_count(tenant_id),
            today=self._jobs.daily_usage(tenant_id, day),
        )
