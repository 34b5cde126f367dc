"""Hostile input costs nothing: oversized metadata and deeply nested bodies are refused with a 400
(or, on the event path, a recorded rejection) before anything is stored or sent to Runway."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from runway_bridge.errors import InvalidRequestError
from runway_bridge.models.limits import (
    METADATA_KEY_MAX_CHARS,
    METADATA_MAX_BYTES,
    METADATA_VALUE_MAX_CHARS,
)
from tests.integration.conftest import TEXT_TO_VIDEO, Bridge, BridgeFactory
from tests.integration.submission.test_bus_submits import detail, rejections_for


def nested(depth: int) -> Any:
    """`depth` levels of {"a": {"a": ...}}, built without recursion."""
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("metadata", "fragment"),
    [
        # What a hostile tenant sent: 20 values of 15 KB (a 300 KB notification).
        ({f"k{i}": "v" * 15_000 for i in range(20)}, f"{METADATA_VALUE_MAX_CHARS} characters"),
        ({"k" * (METADATA_KEY_MAX_CHARS + 1): "v"}, f"{METADATA_KEY_MAX_CHARS} characters"),
        ({"": "v"}, "keys"),
        # Every entry within its own caps, the whole over the total.
        ({f"k{i}": "v" * METADATA_VALUE_MAX_CHARS for i in range(10)}, f"{METADATA_MAX_BYTES} bytes"),
    ],
)
def test_oversized_metadata_is_refused_before_anything_is_stored_or_sent(
    bridge: Bridge, metadata: dict[str, str], fragment: str
) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        bridge.submission.submit("tenant-a", "text_to_video", {**TEXT_TO_VIDEO, "metadata": metadata})

    assert refused.value.http_status == 400
    assert "metadata" in refused.value.message
    assert fragment in refused.value.message
    assert bridge.aws.scan(bridge.aws.jobs_table) == []
    assert bridge.creates() == 0


def test_metadata_at_its_caps_is_accepted(bridge: Bridge) -> None:
    metadata = {
        f"{i:02d}" + "k" * (METADATA_KEY_MAX_CHARS - 2): "v" * METADATA_VALUE_MAX_CHARS for i in range(6)
    }
    result = bridge.submission.submit("tenant-a", "text_to_video", {**TEXT_TO_VIDEO, "metadata": metadata})

    job = bridge.jobs.get(result.job_id)
    assert job is not None
    assert job.bridge.metadata == metadata
    assert bridge.creates() == 1


@pytest.mark.parametrize("passthrough", [False, True])
def test_a_deeply_nested_event_detail_is_rejected_and_recorded_not_crashed(
    make_bridge: BridgeFactory, passthrough: bool
) -> None:
    # With passthrough the unknown field would be forwarded: without the cap, hashing it for the
    # idempotency fingerprint recursed past Python's limit and the event was retried until dead.
    bridge = make_bridge(passthrough=passthrough)
    event_id = str(uuid.uuid4())
    bad = detail(body={**TEXT_TO_VIDEO, "reference": "ord-1", "extra": nested(5000)})

    result = bridge.submission.submit_event(event_id, bad)

    assert result.job_id is None
    assert result.rejection_code == "invalid_event"
    assert result.rejection_reason is not None
    assert "deeper than" in result.rejection_reason
    assert result.reference == "ord-1"
    assert len(rejections_for(bridge, event_id, expected=1)) == 1
    assert bridge.creates() == 0
