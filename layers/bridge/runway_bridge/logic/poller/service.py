"""The poller: one round (`poll_round`) plans which jobs it looks at (`plan_round`), looks at each
(`check`), and decides when the next round starts.

A poller run is an Express Step Functions execution (statemachine/poller.asl.json) that repeats
rounds with Waits: `poll_round` (function poll_due) lists the due job ids, checks them concurrently
in the same invocation, and answers the ids Runway finished (the ASL hands them to the copy queue)
and the seconds until the next job falls due (the ASL's Wait). Everything a round decides is stored
on the job (status, `nextPollAt`), so a crashed step, function or run loses nothing: the job stays
due and a later round looks again.

- One write per look: `check` reads the job, skips it when it is no longer due (another run handled
  it since this round listed it), and stores what it saw with one write conditioned on the job's
  version as read; of two overlapping looks one write stands and the other is dropped. No lease is
  taken (Runway's side is safe twice: a GET, a DELETE; a queued create has its own guard).
- Every terminal status is written by `JobStore.transition` in one transaction with its outbox
  event (stable id), so a job ends exactly once, with exactly one event.
- Timeouts: a job past `timeoutAt` is read once more (GET before DELETE: a task that just succeeded
  is copied, not destroyed), then cancelled at Runway and ends TIMED_OUT.
- QUEUED jobs (held for their tenant's in-flight limit or Runway's capacity, Runway said 429, or
  their submit stopped before the POST) wait in their tenant's own queue, planned apart from the
  jobs at Runway: a backlog never delays a running job. While Runway has room (no 429 and no task
  held THROTTLED) a round admits a bounded number, taking turns across tenants (each tenant's
  oldest first, skipping tenants whose in-flight places are taken), and sends them through
  `SubmissionService.submit_queued`: the same at-most-once create as the API path.
- SUBMITTING jobs whose lease expired: when their submitter left a hand-off (Runway accepted, the
  task-id write did not land in time) they become PENDING with that task id and are polled;
  otherwise they end SUBMISSION_UNKNOWN (`resolve_expired_submission`).
- Cancels: a job whose tenant asked to cancel it (`cancelRequestedAt`) and Runway has not confirmed
  is read first (a task that finished meanwhile is handled as finished), then DELETEd at Runway
  again each time it is due until Runway confirms (or no longer knows it): it then ends CANCELLED.
"""

from __future__ import annotations

from runway_bridge.logic.poller.core import CheckResult, Outcome
from runway_bridge.logic.poller.rounds import RoundRunner

__all__ = ["CheckResult", "Outcome", "PollerService"]


class PollerService(RoundRunner):
    """Runs rounds (rounds.py): plans them (plan.py) and checks their jobs (check.py); the deployed
    assembly is in wiring/poller.py."""
