"""The bus submit function: the submitter alone."""

from __future__ import annotations

from runway_bridge.logic.submission.service import SubmissionService
from runway_bridge.settings import BridgeSettings
from runway_bridge.wiring import parts
from runway_bridge.wiring.cache import SettingsKeyedCache


def build_event_submission(settings: BridgeSettings) -> SubmissionService:
    state = parts.poller_state(settings)
    return parts.submission_service(
        settings,
        jobs=parts.jobs_store(settings),
        state=state,
        runway=parts.runway_factory(settings),
        starter=parts.poller_starter(settings, state),
    )


get_event_submission = SettingsKeyedCache(build_event_submission)
