"""The copier: outputs streamed to the bucket, and which failures fail the job or come back."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from runway_bridge.errors import OutputExpiredError, OutputFetchError
from runway_bridge.logic.copy.job import CopyResult, CopyRetryLater
from runway_bridge.models.job import BRIDGE_COPY_FAILED, Job, JobStatus
from tests.unit.builders import new_job
from tests.unit.copy.conftest import CopyWorld
from tests.unit.fakes.runway import task, unavailable

URL = "https://cdn.runway.test/out-0.mp4"
FRESH_URL = "https://cdn.runway.test/out-0.mp4?fresh"
VIDEO = b"\x00\x00\x00\x18ftypmp42 a small video"


class World(CopyWorld):
    def copying(self, *urls: str) -> Job:
        job = new_job(status=JobStatus.COPYING, runway_task_id="t-1")
        self.jobs.create(job)
        self.runway.tasks["t-1"] = [task("t-1", "SUCCEEDED", output=list(urls or [URL]))]
        return job


@pytest.fixture
def w() -> World:
    return World()


def test_outputs_are_copied_and_the_job_succeeds_with_one_event(w: World) -> None:
    job = w.copying()
    w.source.answers[URL] = [VIDEO]
    result, after = w.copy(job)
    assert result is CopyResult.SUCCEEDED
    assert after.status is JobStatus.SUCCEEDED
    [output] = after.outputs
    assert output.s3_uri == f"s3://artifacts/outputs/{job.job_id}/0.mp4"
    assert (output.sha256, output.size) == (hashlib.sha256(VIDEO).hexdigest(), len(VIDEO))
    assert w.store.bodies[f"outputs/{job.job_id}/0.mp4"] == VIDEO
    assert [event.type for event in w.jobs.outbox_events(job.job_id)] == ["task.succeeded"]


def test_the_pollers_first_hand_off_with_runways_urls_reads_neither_the_task_nor_the_bucket(w: World) -> None:
    job = w.copying()
    w.source.answers[URL] = [VIDEO]
    listings: list[str] = []
    for name in ("list_keys", "abort_unfinished"):
        real = getattr(w.store, name)

        def noted(prefix: str, _real: Any = real, _name: str = name) -> Any:
            listings.append(_name)
            return _real(prefix)

        setattr(w.store, name, noted)
    outcome = w.copier.copy(
        job.job_id, runway_budget_s=5, last_attempt=False, output_urls=[URL], first_delivery=True
    )
    assert outcome.result is CopyResult.SUCCEEDED
    assert w.runway.gets == []  # the URLs came with the message
    assert listings == []  # no earlier copy of this job can exist
    # A redelivery (or the watchdog's second hand-off, without URLs) looks for what an earlier try left.
    again = w.copying()
    w.copier.copy(
        again.job_id, runway_budget_s=5, last_attempt=False, output_urls=[URL], first_delivery=False
    )
    assert listings == ["list_keys", "abort_unfinished"]


def test_a_duplicate_message_after_success_is_skipped(w: World) -> None:
    job = w.copying()
    w.source.answers[URL] = [VIDEO]
    w.copy(job)
    result, _ = w.copy(job)
    assert result is CopyResult.SKIPPED
    assert w.source.opened == [URL]
    assert len(w.jobs.outbox_events(job.job_id)) == 1


def test_an_expired_url_is_fetched_again_from_a_fresh_task_read(w: World) -> None:
    job = w.copying()
    w.runway.tasks["t-1"] = [
        task("t-1", "SUCCEEDED", output=[URL]),
        task("t-1", "SUCCEEDED", output=[FRESH_URL]),
    ]
    w.source.answers[URL] = [OutputExpiredError("403 from the output URL")]
    w.source.answers[FRESH_URL] = [VIDEO]
    result, _ = w.copy(job)
    assert result is CopyResult.SUCCEEDED
    assert w.source.opened == [URL, FRESH_URL]


def test_an_output_url_refusing_for_good_fails_the_job(w: World) -> None:
    job = w.copying()
    w.source.answers[URL] = [OutputFetchError("404 from the output URL", retryable=False)]
    result, after = w.copy(job)
    assert result is CopyResult.FAILED
    assert (after.status, after.failure_code) == (JobStatus.FAILED, BRIDGE_COPY_FAILED)
    assert [event.type for event in w.jobs.outbox_events(job.job_id)] == ["task.failed"]


def test_a_transient_failure_comes_back_except_on_the_last_delivery(w: World) -> None:
    job = w.copying()
    w.source.answers[URL] = [OutputFetchError("connection reset", retryable=True)]
    with pytest.raises(CopyRetryLater):
        w.copy(job)
    assert w.jobs.get(job.job_id) == job  # still COPYING, nothing recorded
    assert len(w.source.opened) == 2  # the policy's attempts were used first
    result, after = w.copy(job, last_attempt=True)
    assert result is CopyResult.FAILED
    assert after.status is JobStatus.FAILED
    assert "after repeated attempts" in (after.failure or "")


def test_runway_unavailable_is_retried_later(w: World) -> None:
    job = w.copying()
    w.runway.tasks["t-1"] = [unavailable()]
    with pytest.raises(CopyRetryLater):
        w.copy(job)


def test_a_task_runway_no_longer_reports_as_succeeded_fails_the_copy(w: World) -> None:
    job = w.copying()
    w.runway.tasks["t-1"] = [task("t-1", "SUCCEEDED", output=[])]
    result, after = w.copy(job)
    assert result is CopyResult.FAILED
    assert "without any output" in (after.failure or "")


def test_a_job_not_copying_or_gone_is_skipped(w: World) -> None:
    running = new_job(status=JobStatus.RUNNING, runway_task_id="t-1")
    w.jobs.create(running)
    assert w.copier.copy(running.job_id, runway_budget_s=5, last_attempt=True).result is CopyResult.SKIPPED
    assert w.copier.copy("gone", runway_budget_s=5, last_attempt=True).result is CopyResult.SKIPPED
    assert w.runway.gets == []
