"""Event-driven submits ("Generation Requested" on the bridge's bus): the same submission logic,
deduplicated on the event id, invalid events recorded and announced, never dropped."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from runway_bridge.errors import IdempotencyConflictError
from runway_bridge.models.job import JobStatus
from tests.integration.conftest import TEXT_TO_VIDEO, Bridge
from tests.integration.submission.test_submission import LambdaKilled, fail_dynamodb_writes


def rejections_for(
    bridge: Bridge, event_id: str, expected: int, timeout_s: float = 5.0
) -> list[dict[str, Any]]:
    """Rejection events (EventBridge → rule → SQS in moto) for `event_id`; waits for `expected`."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found.extend(
            message
            for message in bridge.aws.rejections()
            if message["detail"].get("sourceEventId") == event_id
        )
        if len(found) >= expected:
            break
        time.sleep(0.1)
    return found


def detail(**overrides: Any) -> dict[str, Any]:
    return {
        "tenantId": "tenant-a",
        "operation": "text_to_video",
        "body": {**TEXT_TO_VIDEO, "reference": "ord-1"},
        **overrides,
    }


@pytest.fixture(autouse=True)
def tenant_a_has_a_key(bridge: Bridge) -> None:
    """Bus submits name their tenant; only a tenant holding a live key is accepted."""
    bridge.keys.create_key("events", tenant_id="tenant-a")


def test_a_valid_event_submits_once_even_when_delivered_twice(bridge: Bridge) -> None:
    event_id = str(uuid.uuid4())
    first = bridge.submission.submit_event(event_id, detail())
    second = bridge.submission.submit_event(event_id, detail())

    assert first.job_id is not None
    assert first.status is JobStatus.PENDING
    assert first.reference == "ord-1"
    assert not first.duplicate
    assert second.job_id == first.job_id
    assert second.duplicate
    assert second.reference == "ord-1"
    assert bridge.creates() == 1
    job = bridge.jobs.get(first.job_id)
    assert job is not None
    assert job.bridge.reference == "ord-1"
    assert job.tenant_id == "tenant-a"


def test_a_redelivery_after_a_crash_before_the_marker_still_maps_to_the_same_job(bridge: Bridge) -> None:
    event_id = str(uuid.uuid4())
    # As if the first delivery died right after submitting: same event id → same job, no marker yet.
    first = bridge.submission.submit("tenant-a", "text_to_video", detail()["body"], f"event:{event_id}")
    again = bridge.submission.submit_event(event_id, detail())

    assert again.job_id == first.job_id
    assert again.duplicate
    assert bridge.creates() == 1


def test_an_explicit_idempotency_key_dedupes_across_events_and_http(bridge: Bridge) -> None:
    over_http = bridge.submission.submit("tenant-a", "text_to_video", detail()["body"], "batch-7")
    by_event = bridge.submission.submit_event(str(uuid.uuid4()), detail(idempotencyKey="batch-7"))

    assert by_event.job_id == over_http.job_id
    assert bridge.creates() == 1


@pytest.mark.parametrize(
    ("bad", "code", "fragment"),
    [
        (detail(operation="make_coffee"), "unknown_operation", "make_coffee"),
        (detail(body={**TEXT_TO_VIDEO, "ratio": "1:1", "reference": "ord-1"}), "invalid_request", "ratio"),
        ({"operation": "text_to_video", "body": {"reference": "ord-1"}}, "invalid_event", "tenantId"),
        (
            detail(body={**TEXT_TO_VIDEO, "reference": "ord-1", "callbackUrl": "https://10.0.0.1/x"}),
            "callback_url_refused",
            "private",
        ),
    ],
)
def test_an_invalid_event_is_recorded_and_announced_once_never_dropped(
    bridge: Bridge, bad: dict[str, Any], code: str, fragment: str
) -> None:
    event_id = str(uuid.uuid4())
    result = bridge.submission.submit_event(event_id, bad)
    redelivered = bridge.submission.submit_event(event_id, bad)

    assert result.job_id is None
    assert (result.rejection_code, redelivered.rejection_code) == (code, code)
    assert result.rejection_reason is not None
    assert fragment in result.rejection_reason
    assert result.reference == "ord-1"
    assert redelivered.duplicate
    marker = bridge.jobs.get_event(event_id)
    assert marker is not None
    assert marker.rejection_code == code
    announced = rejections_for(bridge, event_id, expected=1)
    assert len(announced) == 1
    assert announced[0]["detail-type"] == "Generation Rejected"
    assert announced[0]["detail"]["reference"] == "ord-1"
    assert announced[0]["detail"]["code"] == code
    assert bridge.creates() == 0
    assert rejections_for(bridge, event_id, expected=2, timeout_s=0.5) == []  # no second announcement


def test_an_event_whose_key_is_still_submitting_is_left_for_redelivery(bridge: Bridge) -> None:
    fail_dynamodb_writes(bridge, "runwayTaskId", LambdaKilled())
    with pytest.raises(LambdaKilled):
        bridge.submission.submit("tenant-a", "text_to_video", detail()["body"], "k-1")

    with pytest.raises(IdempotencyConflictError):
        bridge.submission.submit_event(str(uuid.uuid4()), detail(idempotencyKey="k-1"))
    assert bridge.creates() == 1


def assert_unknown_tenant(bridge: Bridge, tenant_id: str) -> None:
    event_id = str(uuid.uuid4())
    result = bridge.submission.submit_event(event_id, detail(tenantId=tenant_id))

    assert result.job_id is None
    assert result.rejection_code == "unknown_tenant"
    assert tenant_id in (result.rejection_reason or "")
    [announced] = rejections_for(bridge, event_id, expected=1)
    assert announced["detail"]["code"] == "unknown_tenant"
    assert announced["detail"]["tenantId"] == tenant_id
    assert bridge.creates() == 0  # nothing sent to Runway
    page = bridge.jobs.list_by_tenant(tenant_id, status=None, limit=10, cursor=None)
    assert page.jobs == []  # nothing stored


def test_an_event_for_a_tenant_without_keys_is_rejected_as_unknown_tenant(bridge: Bridge) -> None:
    assert_unknown_tenant(bridge, f"ghost-{uuid.uuid4().hex[:8]}")


def test_an_event_for_a_tenant_whose_keys_are_all_revoked_is_rejected(bridge: Bridge) -> None:
    tenant_id = f"former-{uuid.uuid4().hex[:8]}"
    created = bridge.keys.create_key("only", tenant_id=tenant_id)
    bridge.keys.revoke_key(created.api_key)

    assert_unknown_tenant(bridge, tenant_id)


def test_one_live_key_is_enough_for_a_tenant(bridge: Bridge) -> None:
    tenant_id = f"rotating-{uuid.uuid4().hex[:8]}"
    old = bridge.keys.create_key("old", tenant_id=tenant_id)
    bridge.keys.create_key("new", tenant_id=tenant_id)
    bridge.keys.revoke_key(old.api_key)

    result = bridge.submission.submit_event(str(uuid.uuid4()), detail(tenantId=tenant_id))
    assert result.rejection_code is None
    assert result.job_id is not None
