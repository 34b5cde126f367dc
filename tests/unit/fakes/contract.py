"""Behavioural checks every `JobStore` must pass: run against `FakeJobStore`
(tests/unit/fakes/test_job_store_contract.py) and `DynamoJobStore` on moto
(tests/integration/adapters/test_jobs_store_contract.py). A fake that drifts from the adapter fails
here first, before a unit test can trust it.

A subclass named `Test...` provides the `store` fixture.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from runway_bridge.errors import (
    InvalidRequestError,
    RunwayAtCapacityError,
    StoreConditionFailedError,
    TenantAtCapacityError,
    UsageLimitReachedError,
)
from runway_bridge.models.job import STATUS_HISTORY_MAX, JobStatus, StatusChange
from runway_bridge.models.records import DeliveryAttempt, EventMarker
from runway_bridge.models.tenant import TenantLimits
from tests.unit.builders import charge, ending, new_job
from tests.unit.fakes.clock import T0

Store = Any  # a JobStore (with the outbox and attempt reads both implementations have)


def _submitting(store: Store, job: Any, **kwargs: Any) -> Any:
    return store.transition(job, JobStatus.SUBMITTING, changes={"queue_reason": None}, **kwargs)


class JobStoreContract:
    # --- create and versions -----------------------------------------------------------------

    def test_a_created_job_reads_back_equal(self, store: Store) -> None:
        job = new_job(charge=charge(), progress=0.25)
        store.create(job)
        assert store.get(job.job_id) == job
        assert store.get("no-such-job") is None

    def test_a_second_create_with_the_same_id_is_refused(self, store: Store) -> None:
        job = new_job()
        store.create(job)
        with pytest.raises(StoreConditionFailedError):
            store.create(job.model_copy(update={"model": "other"}))
        assert store.get(job.job_id) == job

    def test_a_transition_bumps_the_version_and_returns_the_stored_job(self, store: Store) -> None:
        job = new_job()
        store.create(job)
        moved = _submitting(store, job)
        assert moved.version == job.version + 1
        assert moved.status is JobStatus.SUBMITTING
        assert store.get(job.job_id) == moved

    def test_a_transition_from_a_stale_version_or_status_is_refused(self, store: Store) -> None:
        job = new_job()
        store.create(job)
        store.update(job, changes={"progress": 0.5})
        with pytest.raises(StoreConditionFailedError):
            _submitting(store, job)  # version 0 is stale now
        fresh = store.get(job.job_id)
        with pytest.raises(StoreConditionFailedError):
            store.update(fresh.model_copy(update={"status": JobStatus.PENDING}), changes={"progress": 0.7})
        assert store.get(job.job_id) == fresh

    def test_a_disallowed_transition_or_an_end_without_its_event_is_a_bug(self, store: Store) -> None:
        job = new_job()
        store.create(job)
        with pytest.raises(ValueError, match="not an allowed transition"):
            store.transition(job, JobStatus.SUCCEEDED, **ending(job, JobStatus.SUCCEEDED))
        with pytest.raises(ValueError, match="outbox event"):
            store.transition(job, JobStatus.CANCELLED)
        with pytest.raises(ValueError, match="transition"):
            store.update(job, changes={"status": JobStatus.CANCELLED})

    def test_an_end_writes_exactly_one_outbox_event_and_leaves_the_due_list(self, store: Store) -> None:
        job = new_job(status=JobStatus.PENDING, runway_task_id="t-1")
        store.create(job)
        ended = store.transition(job, JobStatus.FAILED, **ending(job, JobStatus.FAILED))
        assert ended.next_poll_at is None
        assert [event.type for event in store.outbox_events(job.job_id)] == ["task.failed"]
        assert job.job_id not in store.due_job_ids(now=T0.timestamp() + 60, limit=10)

    # --- counters ----------------------------------------------------------------------------

    def test_submitting_takes_an_in_flight_place_and_the_queue_gives_it_back(self, store: Store) -> None:
        job = new_job("tenant-slots")
        store.create(job)
        sent = _submitting(store, job, slot_limit=2)
        assert sent.holds_slot
        assert sent.holds_runway_slot
        assert store.in_flight("tenant-slots") == 1
        assert store.runway_in_flight() == 1
        back = store.transition(sent, JobStatus.QUEUED, changes={"queue_reason": "not_sent"})
        assert not back.holds_slot
        assert not back.holds_runway_slot
        assert store.in_flight("tenant-slots") == 0
        assert store.runway_in_flight() == 0

    def test_a_full_tenant_refuses_the_place_and_nothing_changes(self, store: Store) -> None:
        first, second = new_job("tenant-full"), new_job("tenant-full", minute=1)
        store.create(first)
        store.create(second)
        _submitting(store, first, slot_limit=1)
        with pytest.raises(TenantAtCapacityError):
            _submitting(store, second, slot_limit=1)
        assert store.get(second.job_id) == second
        assert store.in_flight("tenant-full") == 1
        assert store.runway_in_flight() == 1

    def test_a_full_bridge_refuses_the_place_with_its_own_error(self, store: Store) -> None:
        first, second = new_job("tenant-r1"), new_job("tenant-r2")
        store.create(first)
        store.create(second)
        _submitting(store, first, runway_limit=1)
        with pytest.raises(RunwayAtCapacityError):
            _submitting(store, second, slot_limit=5, runway_limit=1)
        assert store.get(second.job_id) == second
        assert store.in_flight("tenant-r2") == 0

    def test_copying_frees_the_runway_place_and_the_end_frees_the_tenants(self, store: Store) -> None:
        job = new_job("tenant-copy")
        store.create(job)
        sent = _submitting(store, job)
        pending = store.transition(sent, JobStatus.PENDING, changes={"runway_task_id": "t-9"})
        copying = store.transition(pending, JobStatus.COPYING)
        assert (store.in_flight("tenant-copy"), store.runway_in_flight()) == (1, 0)
        store.transition(copying, JobStatus.SUCCEEDED, **ending(copying, JobStatus.SUCCEEDED))
        assert (store.in_flight("tenant-copy"), store.runway_in_flight()) == (0, 0)

    def test_a_charge_past_a_daily_limit_stores_nothing(self, store: Store) -> None:
        limits = TenantLimits(max_jobs_per_day=1, max_output_seconds_per_day=100)
        store.create(new_job("tenant-day", charge=charge(seconds=10)), limits=limits)
        refused = new_job("tenant-day", charge=charge(seconds=10))
        with pytest.raises(UsageLimitReachedError):
            store.create(refused, limits=limits)
        assert store.get(refused.job_id) is None
        used = store.daily_usage("tenant-day", "2026-11-23")
        assert (used.jobs, used.output_seconds) == (1, 10)

    def test_each_daily_counter_is_a_limit_of_its_own(self, store: Store) -> None:
        limits = TenantLimits(max_output_seconds_per_day=15, max_credits_per_day=1.0)
        store.create(new_job("tenant-secs", charge=charge(seconds=10, credits=0.5)), limits=limits)
        with pytest.raises(UsageLimitReachedError):
            store.create(new_job("tenant-secs", charge=charge(seconds=6, credits=0.1)), limits=limits)
        with pytest.raises(UsageLimitReachedError):
            store.create(new_job("tenant-secs", charge=charge(seconds=1, credits=0.6)), limits=limits)
        store.create(new_job("tenant-secs", charge=charge(seconds=5, credits=0.5)), limits=limits)
        used = store.daily_usage("tenant-secs", "2026-11-23")
        assert (used.jobs, used.output_seconds, used.credits) == (2, 15, 1.0)

    def test_a_job_that_never_reached_runway_gives_its_charge_back(self, store: Store) -> None:
        kept = new_job("tenant-refund", status=JobStatus.PENDING, runway_task_id="t-1", charge=charge())
        refunded = new_job("tenant-refund", charge=charge())
        store.create(kept)
        store.create(refunded)
        store.transition(refunded, JobStatus.CANCELLED, **ending(refunded, JobStatus.CANCELLED))
        store.transition(kept, JobStatus.FAILED, **ending(kept, JobStatus.FAILED))
        used = store.daily_usage("tenant-refund", "2026-11-23")
        assert (used.jobs, used.output_seconds) == (1, 5)

    # --- the due list ---------------------------------------------------------------

    def test_the_due_list_holds_due_jobs_at_runway_not_queued_or_later_ones(self, store: Store) -> None:
        now = T0.timestamp()
        due = new_job(status=JobStatus.RUNNING, runway_task_id="t-1", next_poll_at=now - 1)
        later = new_job(status=JobStatus.RUNNING, runway_task_id="t-2", next_poll_at=now + 60)
        queued = new_job(next_poll_at=now - 1)
        for job in (due, later, queued):
            store.create(job)
        assert store.due_job_ids(now=now, limit=10) == [due.job_id]
        assert store.queued_count("tenant-a") == 1
        assert store.queued_count("tenant-a", at_most=1) == 1

    # --- the rest ----------------------------------------------------------------------------

    def test_a_source_event_is_recorded_once(self, store: Store) -> None:
        marker = EventMarker(event_id="ev-1", job_id="j-1", rejection_code=None, rejection_reason=None)
        assert store.record_event(marker) is True
        assert store.record_event(marker) is False
        assert store.get_event("ev-1") == marker
        assert store.get_event("ev-2") is None

    def test_delete_needs_the_current_version(self, store: Store) -> None:
        job = new_job(status=JobStatus.PENDING, runway_task_id="t-1")
        store.create(job)
        ended = store.transition(job, JobStatus.CANCELLED, **ending(job, JobStatus.CANCELLED))
        with pytest.raises(StoreConditionFailedError):
            store.delete(job)
        store.delete(ended)
        assert store.get(job.job_id) is None

    def test_lists_are_newest_first_in_pages_and_a_cursor_fits_one_query(self, store: Store) -> None:
        jobs = [new_job("tenant-list", minute=minute) for minute in range(5)]
        for job in jobs:
            store.create(job)
        store.create(new_job("tenant-other"))
        first = store.list_by_tenant("tenant-list", status=None, limit=3, cursor=None)
        assert [job.job_id for job in first.jobs] == [job.job_id for job in reversed(jobs)][:3]
        assert first.cursor is not None
        second = store.list_by_tenant("tenant-list", status=None, limit=3, cursor=first.cursor)
        assert [job.job_id for job in second.jobs] == [jobs[1].job_id, jobs[0].job_id]
        assert second.cursor is None
        with pytest.raises(InvalidRequestError):
            store.list_by_tenant("tenant-other", status=None, limit=3, cursor=first.cursor)

    def test_a_webhook_attempt_recorded_twice_is_kept_once(self, store: Store) -> None:
        job = new_job()
        store.create(job)
        attempt = DeliveryAttempt(
            event_id="ev",
            event_type="task.succeeded",
            number=1,
            at=T0 + timedelta(seconds=1),
            url="https://hooks.example.com/x",
            status_code=500,
            latency_ms=12,
            error=None,
            outcome="retrying",
            answer_excerpt="try again later",
        )
        store.record_attempt(job.job_id, attempt)
        store.record_attempt(job.job_id, attempt)
        assert store.attempts(job.job_id) == [attempt]

    def test_a_redelivered_attempt_is_kept_beside_the_first_delivery(self, store: Store) -> None:
        # A redelivery is a new queue message: its first attempt is numbered 1 again.
        job = new_job()
        store.create(job)
        first = DeliveryAttempt(
            event_id="ev",
            event_type="task.succeeded",
            number=1,
            at=T0 + timedelta(seconds=1),
            url="https://hooks.example.com/x",
            status_code=200,
            latency_ms=12,
            error=None,
            outcome="delivered",
        )
        again = replace(first, at=T0 + timedelta(seconds=30), latency_ms=9)
        store.record_attempt(job.job_id, first)
        store.record_attempt(job.job_id, again)
        assert store.attempts(job.job_id) == [first, again]

    # --- status history --------------------------------------------------------------------

    def test_each_status_change_is_recorded_with_its_time(self, store: Store) -> None:
        job = new_job(status_history=[StatusChange(status=JobStatus.QUEUED, at=T0)])
        store.create(job)
        sent = _submitting(store, job)  # no updated_at given: the store's own time
        pending = store.transition(
            sent,
            JobStatus.PENDING,
            changes={"runway_task_id": "t-1", "updated_at": T0 + timedelta(seconds=2)},
        )
        history = store.get(job.job_id).status_history
        assert [entry.status for entry in history] == [
            JobStatus.QUEUED,
            JobStatus.SUBMITTING,
            JobStatus.PENDING,
        ]
        assert history[0].at == T0
        assert history[1].at > T0
        assert history[2].at == T0 + timedelta(seconds=2)
        assert pending.status_history == history

    def test_the_status_history_keeps_only_the_newest_entries(self, store: Store) -> None:
        job = new_job()
        store.create(job)
        current = store.transition(_submitting(store, job), JobStatus.RUNNING)
        for second in range(STATUS_HISTORY_MAX + 5):
            current = store.transition(
                current, JobStatus.RUNNING, changes={"updated_at": T0 + timedelta(seconds=second)}
            )
        history = store.get(job.job_id).status_history
        assert len(history) == STATUS_HISTORY_MAX
        assert history[-1].at == T0 + timedelta(seconds=STATUS_HISTORY_MAX + 4)
        assert all(entry.status is JobStatus.RUNNING for entry in history)

    def test_lists_filter_by_operation_and_model_and_bind_the_cursor_to_them(self, store: Store) -> None:
        kinds = [("text_to_video", "gen4.5"), ("image_to_video", "gen4_turbo"), ("text_to_video", "veo3")] * 3
        jobs = [
            new_job("tenant-kind", minute=minute, operation=operation, model=model, bridge={"reference": "r"})
            for minute, (operation, model) in enumerate(kinds)
        ]
        for job in jobs:
            store.create(job)
        wanted = [job.job_id for job in reversed(jobs) if job.operation == "text_to_video"]
        found: list[str] = []
        cursor = None
        for _ in range(len(jobs)):  # pages may come short: follow the cursor to the end
            page = store.list_by_tenant(
                "tenant-kind", status=None, limit=2, cursor=cursor, operation="text_to_video"
            )
            assert all(job.operation == "text_to_video" for job in page.jobs)
            found.extend(job.job_id for job in page.jobs)
            cursor = page.cursor
            if cursor is None:
                break
        assert found == wanted
        by_model = store.list_by_reference(
            "tenant-kind", "r", status=None, limit=10, cursor=None, model="veo3"
        )
        assert [job.job_id for job in by_model.jobs] == [
            job.job_id for job in reversed(jobs) if job.model == "veo3"
        ]
        both = store.list_by_tenant(
            "tenant-kind", status=None, limit=10, cursor=None, operation="text_to_video", model="gen4.5"
        )
        assert len(both.jobs) == 3
        first = store.list_by_tenant(
            "tenant-kind", status=None, limit=2, cursor=None, operation="image_to_video"
        )
        assert first.cursor is not None
        with pytest.raises(InvalidRequestError):
            store.list_by_tenant("tenant-kind", status=None, limit=2, cursor=first.cursor)
        with pytest.raises(InvalidRequestError):
            store.list_by_tenant("tenant-kind", status=None, limit=2, cursor=first.cursor, model="veo3")
