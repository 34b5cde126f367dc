"""The poller's function (poll_due runs a round): the poller service with the submitter it admits
queued jobs through."""

from __future__ import annotations

from runway_bridge.logic.poller.service import PollerService
from runway_bridge.settings import BridgeSettings
from runway_bridge.wiring import parts
from runway_bridge.wiring.cache import SettingsKeyedCache, utc_now


def build_poller_service(settings: BridgeSettings) -> PollerService:
    jobs = parts.jobs_store(settings)
    state = parts.poller_state(settings)
    runway = parts.runway_factory(settings)
    starter = parts.poller_starter(settings, state)
    submission = parts.submission_service(settings, jobs=jobs, state=state, runway=runway, starter=starter)
    return PollerService(
        jobs=jobs,
        state=state,
        submission=submission,
        runway_factory=runway,
        settings=settings,
        clock=utc_now,
        successor=starter,
    )


get_poller_service = SettingsKeyedCache(build_poller_service)
