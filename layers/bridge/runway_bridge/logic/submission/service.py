"""The submitter: at most one Runway create per job, whichever way the request arrives (the API,
the EventBridge bus, the poller's queue). Its steps are in core.py, its entry paths in api.py,
events.py and queued.py; the deployed assembly is in wiring/."""

from __future__ import annotations

from runway_bridge.logic.submission.core import EventSubmitResult, SubmitResult
from runway_bridge.logic.submission.events import EventSubmission
from runway_bridge.logic.submission.queued import QueuedSubmission

__all__ = ["EventSubmitResult", "SubmissionService", "SubmitResult"]


class SubmissionService(EventSubmission, QueuedSubmission):
    """Submits creates for the API function, the EventBridge submit function and the poller."""
