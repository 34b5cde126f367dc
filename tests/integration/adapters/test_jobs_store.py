"""The DynamoDB job store against moto, with the table schema read from template.yaml."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from runway_bridge.errors import InvalidRequestError, StoreConditionFailedError
from runway_bridge.models.job import BridgeFields, Job, JobStatus
from runway_bridge.models.outbox import terminal_event
from runway_bridge.models.records import EventMarker
from tests.integration.conftest import Bridge
from tests.unit.builders import new_job
from tests.unit.fakes.clock import T0


def finish(bridge: Bridge, job: Job, status: JobStatus) -> Job:
    changes = {"updated_at": job.updated_at + timedelta(seconds=1)}
    future = job.model_copy(update={**changes, "status": status})
    return bridge.jobs.transition(job, status, changes=changes, event=terminal_event(future))


def test_a_job_round_trips_with_every_field(bridge: Bridge) -> None:
    job = new_job(
        bridge=BridgeFields(callback_url="https://h.example.com", metadata={"a": "b"}, reference="r1"),
        progress=0.25,
        timeout_at=T0.timestamp() + 0.5,
    )
    bridge.jobs.create(job)

    assert bridge.jobs.get(job.job_id) == job
    assert bridge.jobs.get(str(uuid.uuid4())) is None


def test_create_refuses_an_existing_job_id(bridge: Bridge) -> None:
    job = new_job()
    bridge.jobs.create(job)
    with pytest.raises(StoreConditionFailedError):
        bridge.jobs.create(job.model_copy(update={"model": "other"}))
    assert bridge.jobs.get(job.job_id) == job


def test_a_transition_needs_the_expected_status_and_version(bridge: Bridge) -> None:
    job = new_job()
    bridge.jobs.create(job)
    submitting = bridge.jobs.transition(job, JobStatus.SUBMITTING, changes={"lease_owner": "me"})
    assert (submitting.status, submitting.version, submitting.lease_owner) == (JobStatus.SUBMITTING, 1, "me")

    with pytest.raises(StoreConditionFailedError):  # stale copy: QUEUED, version 0
        bridge.jobs.transition(job, JobStatus.SUBMITTING)
    with pytest.raises(ValueError, match="not an allowed transition"):
        bridge.jobs.transition(submitting, JobStatus.SUCCEEDED)

    pending = bridge.jobs.transition(
        submitting, JobStatus.PENDING, changes={"runway_task_id": "t-1"}, remove=frozenset({"lease_owner"})
    )
    assert pending == bridge.jobs.get(job.job_id)
    assert pending.lease_owner is None
    assert pending.runway_task_id == "t-1"


def test_a_terminal_status_is_written_once_with_exactly_one_event_and_leaves_the_due_index(
    bridge: Bridge,
) -> None:
    job = new_job(status=JobStatus.RUNNING)
    bridge.jobs.create(job)
    assert bridge.jobs.due_job_ids(now=T0.timestamp() + 1, limit=10) == [job.job_id]

    with pytest.raises(ValueError, match="outbox event"):
        bridge.jobs.transition(job, JobStatus.CANCELLED)
    cancelled = finish(bridge, job, JobStatus.CANCELLED)
    with pytest.raises(StoreConditionFailedError):
        finish(bridge, job, JobStatus.CANCELLED)  # a racing second writer

    assert cancelled == bridge.jobs.get(job.job_id)
    events = bridge.jobs.outbox_events(job.job_id)
    assert [event.type for event in events] == ["task.cancelled"]
    assert events[0].payload["status"] == "CANCELLED"
    assert bridge.jobs.due_job_ids(now=T0.timestamp() + 1, limit=10) == []


def test_due_jobs_are_found_across_shards_once_their_time_has_come(bridge: Bridge) -> None:
    jobs = [new_job(status=JobStatus.PENDING, minute=minute) for minute in range(8)]
    for job in jobs:
        bridge.jobs.create(job)

    due_now = bridge.jobs.due_job_ids(now=T0.timestamp() + 3 * 60 + 1, limit=100)
    assert sorted(due_now) == sorted(job.job_id for job in jobs[:4])
    assert len(bridge.jobs.due_job_ids(now=T0.timestamp() + 3600, limit=5)) == 5


def test_listing_pages_newest_first_without_gaps_or_repeats(bridge: Bridge) -> None:
    mine = [new_job(minute=minute) for minute in range(7)]
    for job in [*mine, new_job("tenant-b", minute=3)]:
        bridge.jobs.create(job)

    seen: list[str] = []
    cursor = None
    sizes = []
    while True:
        page = bridge.jobs.list_by_tenant("tenant-a", status=None, limit=3, cursor=cursor)
        seen.extend(job.job_id for job in page.jobs)
        sizes.append(len(page.jobs))
        cursor = page.cursor
        if cursor is None:
            break

    assert seen == [job.job_id for job in reversed(mine)]
    assert sizes[:2] == [3, 3]


def test_listing_filters_by_status_and_by_reference(bridge: Bridge) -> None:
    running = new_job(status=JobStatus.RUNNING, minute=1, bridge=BridgeFields(reference="batch-1"))
    queued = new_job(minute=2, bridge=BridgeFields(reference="batch-1"))
    other = new_job(minute=3, bridge=BridgeFields(reference="batch-2"))
    foreign = new_job("tenant-b", minute=4, bridge=BridgeFields(reference="batch-1"))
    for job in (running, queued, other, foreign):
        bridge.jobs.create(job)
    finish(bridge, bridge.jobs.get(other.job_id), JobStatus.CANCELLED)  # type: ignore[arg-type]

    def ids(page: Any) -> list[str]:
        return [job.job_id for job in page.jobs]

    assert ids(bridge.jobs.list_by_tenant("tenant-a", status=JobStatus.RUNNING, limit=10, cursor=None)) == [
        running.job_id
    ]
    by_reference = bridge.jobs.list_by_reference("tenant-a", "batch-1", status=None, limit=10, cursor=None)
    assert ids(by_reference) == [queued.job_id, running.job_id]
    # Outbox events of the cancelled job never show up as jobs.
    assert len(bridge.jobs.list_by_tenant("tenant-a", status=None, limit=10, cursor=None).jobs) == 3


def test_a_cursor_only_continues_its_own_query(bridge: Bridge) -> None:
    for minute in range(3):
        bridge.jobs.create(new_job(minute=minute))
        bridge.jobs.create(new_job("tenant-b", minute=minute))
    page = bridge.jobs.list_by_tenant("tenant-a", status=None, limit=1, cursor=None)
    assert page.cursor is not None

    with pytest.raises(InvalidRequestError, match="cursor"):
        bridge.jobs.list_by_tenant("tenant-b", status=None, limit=1, cursor=page.cursor)
    with pytest.raises(InvalidRequestError, match="cursor"):
        bridge.jobs.list_by_tenant("tenant-a", status=JobStatus.QUEUED, limit=1, cursor=page.cursor)
    with pytest.raises(InvalidRequestError, match="cursor"):
        bridge.jobs.list_by_tenant("tenant-a", status=None, limit=1, cursor="not-a-cursor!")


def test_delete_removes_the_job_and_its_attempts_but_keeps_unpublished_events(bridge: Bridge) -> None:
    job = new_job(status=JobStatus.RUNNING)
    bridge.jobs.create(job)
    done = finish(bridge, job, JobStatus.CANCELLED)
    bridge.aws.dynamodb.put_item(
        TableName=bridge.aws.jobs_table,
        Item={"pk": {"S": f"JOB#{job.job_id}"}, "sk": {"S": "ATTEMPT#e#1"}, "statusCode": {"N": "500"}},
    )

    with pytest.raises(StoreConditionFailedError):
        bridge.jobs.delete(job)  # stale version
    bridge.jobs.delete(done)

    assert bridge.jobs.get(job.job_id) is None
    remaining = [item["sk"]["S"] for item in bridge.aws.scan(bridge.aws.jobs_table)]
    assert [sk.split("#")[0] for sk in remaining] == ["EVENT"]


def test_source_event_markers_are_recorded_once(bridge: Bridge) -> None:
    marker = EventMarker(event_id="ev-1", job_id=None, rejection_code="invalid_event", rejection_reason="bad")
    assert bridge.jobs.record_event(marker)
    assert not bridge.jobs.record_event(
        EventMarker(event_id="ev-1", job_id="j", rejection_code=None, rejection_reason=None)
    )
    assert bridge.jobs.get_event("ev-1") == marker
    assert bridge.jobs.get_event("ev-2") is None
