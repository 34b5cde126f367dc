"""Submission against moto and the Runway emulator over loopback: at most one Runway create per
job whatever fails, and every job ends with a truthful status."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from runway_bridge.adapters.runway.client import RunwayClient
from runway_bridge.errors import (
    CallbackUrlRefusedError,
    IdempotencyConflictError,
    IdempotencyMismatchError,
    InvalidRequestError,
    StoreUnavailableError,
)
from runway_bridge.models.job import (
    BRIDGE_INPUT_EXPIRED,
    BRIDGE_RUNWAY_REJECTED,
    BRIDGE_SUBMISSION_UNKNOWN,
    JobStatus,
)
from tests.integration.conftest import IMAGE_TO_VIDEO, TEXT_TO_VIDEO, Bridge, BridgeFactory


def test_submit_records_the_job_and_runway_task_and_starts_the_poller(bridge: Bridge) -> None:
    body = {**TEXT_TO_VIDEO, "reference": "order-17", "metadata": {"customer": "acme"}}
    result = bridge.submission.submit("tenant-a", "text_to_video", body)

    assert result.created
    assert result.status is JobStatus.PENDING
    job = bridge.jobs.get(result.job_id)
    assert job is not None
    assert job.status is JobStatus.PENDING
    assert job.runway_task_id == result.runway_task_id
    assert job.runway_task_id in {task["id"] for task in bridge.emulator.tasks()}
    assert job.bridge.reference == "order-17"
    assert job.bridge.metadata == {"customer": "acme"}
    # Bridge fields are stored, never forwarded (the strict emulator would have refused them).
    assert job.request_body == TEXT_TO_VIDEO
    assert job.lease_owner is None
    assert bridge.creates() == 1
    assert bridge.poller.started == [result.job_id]


class LambdaKilled(BaseException):
    """Stands for the Lambda runtime stopping the process (timeout): nothing in our code runs on."""


def fail_dynamodb_writes(bridge: Bridge, attribute: str, error: BaseException, times: int = 1) -> list[int]:
    """Make the next `times` UpdateItem/TransactWriteItems calls that write `attribute` fail with
    `error` before they reach DynamoDB (injected in botocore, below our adapter)."""
    hits = [0]

    def hook(params: dict[str, Any], **_: Any) -> None:
        updates = [item["Update"] for item in params.get("TransactItems", []) if "Update" in item]
        names = [str(update.get("ExpressionAttributeNames", {}).values()) for update in [params, *updates]]
        if any(attribute in written for written in names) and hits[0] < times:
            hits[0] += 1
            raise error

    for operation in ("UpdateItem", "TransactWriteItems"):
        bridge.aws.dynamodb.meta.events.register(f"before-parameter-build.dynamodb.{operation}", hook)
    return hits


class LostHandoffs:
    """The artifacts bucket with every submit hand-off failing with `error` (e.g. S3 down too)."""

    def __init__(self, inner: Any, error: BaseException) -> None:
        self._inner = inner
        self._error = error

    def put_submit_handoff(self, job_id: str, runway_task_id: str) -> None:
        raise self._error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def only_event(bridge: Bridge, job_id: str) -> str:
    events = bridge.jobs.outbox_events(job_id)
    assert len(events) == 1, events
    return events[0].type


@pytest.mark.parametrize(
    ("operation", "body", "fragment"),
    [
        ("text_to_video", {"promptText": "x", "ratio": "1280:720"}, "model"),
        ("text_to_video", {**TEXT_TO_VIDEO, "promptText": "x" * 1001}, "promptText"),
        ("text_to_video", {**TEXT_TO_VIDEO, "ratio": "1:1"}, "ratio"),
        ("text_to_video", {**TEXT_TO_VIDEO, "duration": "5"}, "duration"),
        ("text_to_video", {**TEXT_TO_VIDEO, "seedling": 3}, "seedling"),
        ("text_to_video", {**TEXT_TO_VIDEO, "model": "gen9"}, "model"),
        ("image_to_video", {**IMAGE_TO_VIDEO, "promptImage": "ftp://x/a.png"}, "promptImage"),
        ("text_to_video", {**TEXT_TO_VIDEO, "events": ["task.exploded"]}, "task.exploded"),
        ("text_to_video", {**TEXT_TO_VIDEO, "metadata": {"n": 1}}, "metadata"),
        ("text_to_video", {**TEXT_TO_VIDEO, "reference": ""}, "reference"),
        ("text_to_video", ["not", "an", "object"], "JSON object"),
        ("make_coffee", TEXT_TO_VIDEO, "unknown operation"),
    ],
)
def test_an_invalid_request_is_refused_before_anything_is_stored_or_sent(
    bridge: Bridge, operation: str, body: Any, fragment: str
) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        bridge.submission.submit("tenant-a", operation, body, "key-1")

    assert refused.value.http_status == 400
    assert fragment in refused.value.message
    assert bridge.aws.scan(bridge.aws.jobs_table) == []
    assert bridge.aws.object_keys() == []
    assert bridge.creates() == 0


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/x", "scheme"),
        ("https://127.0.0.1/x", "address"),
        ("https://169.254.169.254/latest/meta-data", "address"),
        ("https://0x7f.1/x", "address"),
    ],
)
def test_a_refused_callback_url_answers_400_with_the_reason_and_stores_nothing(
    bridge: Bridge, url: str, reason: str
) -> None:
    with pytest.raises(CallbackUrlRefusedError) as refused:
        bridge.submission.submit("tenant-a", "text_to_video", {**TEXT_TO_VIDEO, "callbackUrl": url})

    assert refused.value.http_status == 400
    assert refused.value.reason == reason
    assert refused.value.message.startswith("callbackUrl refused: ")
    assert bridge.aws.scan(bridge.aws.jobs_table) == []
    assert bridge.creates() == 0


def test_an_accepted_callback_url_is_stored_with_the_job(bridge: Bridge) -> None:
    body = {**TEXT_TO_VIDEO, "callbackUrl": "https://hooks.example.com/runway", "events": ["task.succeeded"]}
    result = bridge.submission.submit("tenant-a", "text_to_video", body)

    job = bridge.jobs.get(result.job_id)
    assert job is not None
    assert job.bridge.callback_url == "https://hooks.example.com/runway"
    assert job.bridge.events == ["task.succeeded"]


def test_a_large_body_goes_to_s3_not_into_the_job_item(bridge: Bridge) -> None:
    image = "data:image/png;base64," + "A" * 12_000
    result = bridge.submission.submit("tenant-a", "image_to_video", {**IMAGE_TO_VIDEO, "promptImage": image})

    job = bridge.jobs.get(result.job_id)
    assert job is not None
    assert job.status is JobStatus.PENDING
    assert job.request_body is None
    assert job.request_s3_key is not None
    assert job.request_s3_key.startswith(f"requests/{result.job_id}/")
    assert bridge.objects.get_request_body(job.request_s3_key)["promptImage"] == image
    item = bridge.aws.scan(bridge.aws.jobs_table)[0]
    assert len(str(item)) < 4_000


def test_the_same_idempotency_key_twice_makes_one_runway_create(bridge: Bridge) -> None:
    first = bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO, "order-17")
    second = bridge.submission.submit("tenant-a", "text_to_video", dict(TEXT_TO_VIDEO), "order-17")

    assert second.job_id == first.job_id
    assert (first.created, second.created) == (True, False)
    assert second.status is JobStatus.PENDING
    assert bridge.creates() == 1


def test_idempotency_keys_are_scoped_per_tenant(bridge: Bridge) -> None:
    first = bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO, "order-17")
    other = bridge.submission.submit("tenant-b", "text_to_video", TEXT_TO_VIDEO, "order-17")

    assert other.job_id != first.job_id
    assert other.created
    assert bridge.creates() == 2


def test_the_same_key_with_another_body_answers_422_and_keeps_the_first_job(bridge: Bridge) -> None:
    first = bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO, "order-17")
    with pytest.raises(IdempotencyMismatchError) as refused:
        bridge.submission.submit(
            "tenant-a", "text_to_video", {**TEXT_TO_VIDEO, "promptText": "other"}, "order-17"
        )
    with pytest.raises(IdempotencyMismatchError):
        bridge.submission.submit(
            "tenant-a", "text_to_video", {**TEXT_TO_VIDEO, "callbackUrl": "https://h.example.com"}, "order-17"
        )

    assert refused.value.http_status == 422
    job = bridge.jobs.get(first.job_id)
    assert job is not None
    assert job.request_body == TEXT_TO_VIDEO
    assert bridge.creates() == 1


def test_twenty_racing_identical_requests_make_exactly_one_runway_create(bridge: Bridge) -> None:

    bridge.emulator.update(latency_s=0.3)  # keep the first create in flight while the others arrive

    def attempt(_: int) -> str:
        try:
            return bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO, "race").job_id
        except IdempotencyConflictError:
            return "409"

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(attempt, range(20)))

    job_ids = {outcome for outcome in outcomes if outcome != "409"}
    assert len(job_ids) == 1
    job_id = job_ids.pop()
    job = bridge.jobs.get(job_id)
    assert job is not None
    if job.status is JobStatus.QUEUED:
        # On a loaded machine the winner's budget may run out before its POST: then nothing was
        # sent, and the poller's deferred create is the one create.
        assert bridge.creates() == 0
        job = bridge.submission.submit_queued(job_id, budget_s=30.0)
        assert job is not None
    assert job.status is JobStatus.PENDING
    assert bridge.creates() == 1


def test_a_daily_cap_429_leaves_the_job_queued_without_waiting(bridge: Bridge) -> None:
    bridge.emulator.update(daily_cap=0, retry_after_s=600.0)
    requests_before = bridge.emulator.counters().get("POST /v1/text_to_video", 0)
    started = time.monotonic()
    result = bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO)
    elapsed = time.monotonic() - started

    assert result.status is JobStatus.QUEUED
    # One refused POST, no second one: the poller sends it after Retry-After. A submit that waited
    # would take the whole Retry-After (600 s) or its budget (30 s); 20 s leaves a loaded machine room.
    assert bridge.emulator.counters().get("POST /v1/text_to_video", 0) == requests_before + 1
    assert elapsed < 20.0
    job = bridge.jobs.get(result.job_id)
    assert job is not None
    assert job.status is JobStatus.QUEUED
    assert job.lease_owner is None
    assert job.next_poll_at == pytest.approx(bridge.clock().timestamp() + 600.0, abs=1.0)
    assert bridge.creates() == 0
    assert bridge.poller.started == [result.job_id]  # a run sends it when it may, not the next tick

    # Later (issue 5's poller), the cap lifted: the queued job is sent once.
    bridge.emulator.update(daily_cap=None)
    sent = bridge.submission.submit_queued(result.job_id, budget_s=30.0)
    assert sent is not None
    assert sent.status is JobStatus.PENDING
    assert bridge.creates() == 1


def test_a_body_runway_refuses_fails_the_job_with_one_terminal_event(make_bridge: BridgeFactory) -> None:
    bridge = make_bridge(passthrough=True)  # the bridge forwards a model the (strict) emulator refuses
    result = bridge.submission.submit("tenant-a", "text_to_video", {**TEXT_TO_VIDEO, "model": "gen9"})

    assert result.status is JobStatus.FAILED
    job = bridge.jobs.get(result.job_id)
    assert job is not None
    assert job.failure_code == BRIDGE_RUNWAY_REJECTED
    assert job.failure is not None
    assert "gen9" in job.failure or "model" in job.failure
    assert only_event(bridge, result.job_id) == "task.failed"
    assert bridge.creates() == 0


def test_runway_accepting_then_dropping_the_connection_ends_submission_unknown_never_resent(
    bridge: Bridge,
) -> None:
    bridge.emulator.update(drop_next_creates=1)
    result = bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO, "order-1")

    assert result.status is JobStatus.SUBMISSION_UNKNOWN
    assert bridge.creates() == 1  # Runway did make the task
    job = bridge.jobs.get(result.job_id)
    assert job is not None
    assert job.failure_code == BRIDGE_SUBMISSION_UNKNOWN
    assert only_event(bridge, result.job_id) == "task.submission_unknown"

    again = bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO, "order-1")
    assert again.job_id == result.job_id
    assert again.status is JobStatus.SUBMISSION_UNKNOWN
    assert bridge.creates() == 1


def test_a_5xx_answer_to_the_create_ends_submission_unknown(bridge: Bridge) -> None:
    bridge.emulator.update(fail_next=[500])
    result = bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO)

    assert result.status is JobStatus.SUBMISSION_UNKNOWN
    assert only_event(bridge, result.job_id) == "task.submission_unknown"
    assert bridge.creates() == 0


def test_a_fault_before_the_post_leaves_the_job_queued_and_it_is_sent_once_later(bridge: Bridge) -> None:

    hits = fail_dynamodb_writes(bridge, "leaseOwner", EndpointConnectionError(endpoint_url="dynamodb"))
    result = bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO)

    assert hits[0] == 1
    assert result.status is JobStatus.QUEUED
    assert bridge.creates() == 0
    sent = bridge.submission.submit_queued(result.job_id, budget_s=30.0)
    assert sent is not None
    assert sent.status is JobStatus.PENDING
    assert bridge.creates() == 1


def test_a_secrets_failure_before_the_post_leaves_the_job_queued(make_bridge: BridgeFactory) -> None:

    bridge = make_bridge()

    def no_key() -> Any:
        raise StoreUnavailableError("could not read the Runway API key secret")

    bridge.submission._runway_factory = no_key
    result = bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO)

    assert result.status is JobStatus.QUEUED
    assert bridge.creates() == 0
    assert bridge.poller.started == [result.job_id]


def test_a_lost_task_id_write_is_retried_and_then_recorded(bridge: Bridge) -> None:

    hits = fail_dynamodb_writes(bridge, "runwayTaskId", EndpointConnectionError(endpoint_url="dynamodb"), 2)
    result = bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO)

    assert hits[0] == 2
    assert result.status is JobStatus.PENDING
    assert result.runway_task_id is not None
    assert bridge.creates() == 1


def test_a_task_id_that_cannot_be_recorded_ends_submission_unknown_after_the_lease(bridge: Bridge) -> None:
    # Neither the task-id write nor its hand-off lands (the hand-off case: test_submit_deadline.py).
    bridge.submission._objects = LostHandoffs(bridge.objects, StoreUnavailableError("S3 down"))  # type: ignore[assignment]
    fail_dynamodb_writes(bridge, "runwayTaskId", EndpointConnectionError(endpoint_url="dynamodb"), 100)
    result = bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO, "order-9")

    # Never an error once recorded: the job is still SUBMITTING (shown as PENDING) with its lease.
    assert result.status is JobStatus.SUBMITTING
    assert bridge.creates() == 1
    assert bridge.submission.resolve_expired_submission(result.job_id).status is JobStatus.SUBMITTING  # type: ignore[union-attr]

    bridge.clock.advance(bridge.settings.api_submit_budget_s + bridge.settings.submit_lease_margin_s + 1)
    resolved = bridge.submission.resolve_expired_submission(result.job_id)
    assert resolved is not None
    assert resolved.status is JobStatus.SUBMISSION_UNKNOWN
    assert only_event(bridge, result.job_id) == "task.submission_unknown"
    again = bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO, "order-9")
    assert again.job_id == result.job_id
    assert bridge.creates() == 1


def test_a_lambda_killed_mid_submit_never_leads_to_a_second_create(bridge: Bridge) -> None:
    # Killed before either the task-id write or its hand-off landed.
    bridge.submission._objects = LostHandoffs(bridge.objects, LambdaKilled())  # type: ignore[assignment]
    fail_dynamodb_writes(bridge, "runwayTaskId", LambdaKilled())
    with pytest.raises(LambdaKilled):
        bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO, "order-5")
    assert bridge.creates() == 1

    # The caller's retry while the dead submit's lease runs: 409, nothing sent.
    with pytest.raises(IdempotencyConflictError) as busy:
        bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO, "order-5")
    assert busy.value.http_status == 409
    assert bridge.creates() == 1

    # Once the lease has expired the retry gets the job, truthfully SUBMISSION_UNKNOWN.
    bridge.clock.advance(bridge.settings.api_submit_budget_s + bridge.settings.submit_lease_margin_s + 1)
    again = bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO, "order-5")
    assert again.status is JobStatus.SUBMISSION_UNKNOWN
    assert not again.created
    assert only_event(bridge, again.job_id) == "task.submission_unknown"
    assert bridge.creates() == 1


def test_a_lambda_killed_before_the_post_leaves_a_queued_job_the_retry_returns(bridge: Bridge) -> None:
    fail_dynamodb_writes(bridge, "leaseOwner", LambdaKilled())
    with pytest.raises(LambdaKilled):
        bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO, "order-6")

    again = bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO, "order-6")
    assert again.status is JobStatus.QUEUED
    assert not again.created
    assert bridge.poller.started == [again.job_id]
    assert bridge.creates() == 0
    assert bridge.submission.submit_queued(again.job_id, budget_s=30.0).status is JobStatus.PENDING  # type: ignore[union-attr]
    assert bridge.creates() == 1


def test_a_queued_job_whose_uploaded_inputs_expired_fails_with_a_clear_code(bridge: Bridge) -> None:

    with RunwayClient(bridge.emulator.base_url, bridge.emulator.api_key) as client:
        uploaded = client.upload("frame.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png", budget_s=30.0)
    bridge.emulator.update(daily_cap=0)
    body = {**IMAGE_TO_VIDEO, "promptImage": uploaded}
    result = bridge.submission.submit("tenant-a", "image_to_video", body)
    assert result.status is JobStatus.QUEUED

    bridge.clock.advance(bridge.settings.input_max_age_s + 60)
    failed = bridge.submission.submit_queued(result.job_id, budget_s=30.0)
    assert failed is not None
    assert failed.status is JobStatus.FAILED
    assert failed.failure_code == BRIDGE_INPUT_EXPIRED
    assert only_event(bridge, result.job_id) == "task.failed"
    assert bridge.creates() == 0


def test_an_invalid_idempotency_key_is_refused(bridge: Bridge) -> None:
    with pytest.raises(InvalidRequestError):
        bridge.submission.submit("tenant-a", "text_to_video", TEXT_TO_VIDEO, "x" * 256)
    assert bridge.creates() == 0


def test_character_performance_keeps_its_runway_reference_and_takes_bridge_reference(bridge: Bridge) -> None:
    media = {"type": "video", "uri": "https://example.com/ref.mp4"}
    body = {
        "model": "act_two",
        "character": {"type": "image", "uri": "https://example.com/face.png"},
        "reference": media,
        "bridgeReference": "shot-12",
    }
    result = bridge.submission.submit("tenant-a", "character_performance", body)

    assert result.status is JobStatus.PENDING
    job = bridge.jobs.get(result.job_id)
    assert job is not None
    assert job.request_body is not None
    assert job.request_body["reference"] == media  # Runway's field, forwarded
    assert "bridgeReference" not in job.request_body
    assert job.bridge.reference == "shot-12"


def test_bridge_reference_is_a_spelling_of_reference_everywhere(bridge: Bridge) -> None:
    result = bridge.submission.submit(
        "tenant-a", "text_to_video", {**TEXT_TO_VIDEO, "bridgeReference": "r-9"}
    )
    job = bridge.jobs.get(result.job_id)
    assert job is not None
    assert job.bridge.reference == "r-9"
    with pytest.raises(InvalidRequestError, match="not both"):
        bridge.submission.submit(
            "tenant-a", "text_to_video", {**TEXT_TO_VIDEO, "bridgeReference": "a", "reference": "b"}
        )
