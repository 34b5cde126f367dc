"""Existing `runwayml` code keeps working against the bridge: each operation the SDK shares with the
spec is created, retrieved, listed and cancelled with nothing changed but `base_url` and the key;
another tenant's key gets the SDK's NotFoundError for the same id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from runwayml import NotFoundError, RunwayML

from tests.e2e.api.conftest import Stack, Tenant, creates_sent

# The same spec-valid SDK calls the emulator tests make: the bridge must take exactly what Runway takes.
from tests.e2e.sdk.test_official_sdk import CREATES


def sdk_for(stack: Stack, tenant: Tenant) -> RunwayML:
    # max_retries=0: a test must see the bridge's first answer, not the SDK's retry of it.
    return RunwayML(api_key=tenant.key, base_url=stack.api_url, max_retries=0, timeout=40)


@pytest.fixture
def sdk(stack: Stack, tenant: Tenant) -> Iterator[RunwayML]:
    with sdk_for(stack, tenant) as client:
        yield client


def list_ids(sdk: RunwayML, **params: str) -> list[str]:
    page: Any = sdk.get("/v1/tasks", cast_to=object, options={"params": params})
    return [task["id"] for task in page["data"]]


@pytest.mark.parametrize("operation", list(CREATES))
def test_sdk_creates_retrieves_lists_and_cancels_each_operation(
    sdk: RunwayML, stack: Stack, other_tenant: Tenant, operation: str
) -> None:
    before = creates_sent(stack)
    created = CREATES[operation](sdk)
    assert creates_sent(stack) == before + 1

    task = sdk.tasks.retrieve(created.id)
    assert task.id == created.id
    assert task.status in {"PENDING", "RUNNING", "THROTTLED"}

    assert created.id in list_ids(sdk)

    with sdk_for(stack, other_tenant) as intruder:
        with pytest.raises(NotFoundError):
            intruder.tasks.retrieve(created.id)
        with pytest.raises(NotFoundError):
            intruder.tasks.delete(created.id)

    sdk.tasks.delete(created.id)
    assert sdk.tasks.retrieve(created.id).status == "CANCELLED"


def test_pending_task_json_validates_as_the_sdk_model(sdk: RunwayML) -> None:
    created = CREATES["text_to_video"](sdk)
    task = sdk.tasks.retrieve(created.id)
    # The SDK's objects are built without validation: validating the raw JSON proves the shape.
    raw: Any = sdk.get(f"/v1/tasks/{created.id}", cast_to=object)
    type(task).model_validate(raw)


def test_bridge_fields_ride_in_extra_body(sdk: RunwayML) -> None:
    created = sdk.text_to_video.create(
        model="gen4.5",
        prompt_text="a lighthouse at dusk",
        ratio="1280:720",
        duration=5,
        extra_body={"reference": "sdk-ref-1", "metadata": {"team": "video"}},
    )
    raw: Any = sdk.get(f"/v1/tasks/{created.id}", cast_to=object)
    assert raw["bridge"]["reference"] == "sdk-ref-1"
    assert raw["bridge"]["metadata"] == {"team": "video"}
    assert list_ids(sdk, reference="sdk-ref-1") == [created.id]


def test_sdk_upload_flow_passes_through(sdk: RunwayML) -> None:
    uploaded = sdk.uploads.create_ephemeral(
        file=("frame.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")
    )
    assert uploaded.uri.startswith("runway://")
    created = sdk.image_to_video.create(model="gen4_turbo", prompt_image=uploaded.uri, ratio="960:960")
    assert sdk.tasks.retrieve(created.id).id == created.id
