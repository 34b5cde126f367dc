"""`s3://` inputs: checked before anything is stored or sent (each refusal a 400 with its own
code), and replaced by a presigned GET only in the create Runway receives, at the moment it is
sent (the job keeps `s3://`)."""

from __future__ import annotations

from typing import Any

import pytest

from runway_bridge.errors import InputRefusedError
from runway_bridge.models.job import BRIDGE_INPUT_MISSING, BRIDGE_INPUT_REFUSED, JobStatus
from runway_bridge.models.records import ApiKeyRecord
from runway_bridge.models.runway import URL_INPUT_MAX_BYTES
from tests.unit.fakes.clock import T0
from tests.unit.fakes.runway import rate_limited, unavailable
from tests.unit.harness import TENANT, Harness, build

IMAGE = "s3://in-ok/frames/first.png"


@pytest.fixture
def h() -> Harness:
    return build(input_buckets=["in-ok", "in-too"])


def _image_body(uri: str = IMAGE) -> dict[str, Any]:
    return {"model": "gen4_turbo", "promptImage": uri, "promptText": "a pan", "ratio": "1280:720"}


def _refused(h: Harness, operation: str, body: dict[str, Any]) -> InputRefusedError:
    with pytest.raises(InputRefusedError) as caught:
        h.submission.submit(TENANT, operation, body, "k")
    assert caught.value.http_status == 400
    # Nothing stored, nothing sent.
    assert h.jobs.writes == 0
    assert h.runway.creates == []
    return caught.value


def test_an_allowed_input_reaches_runway_as_a_presigned_get_and_the_job_keeps_s3(h: Harness) -> None:
    h.inputs.put(IMAGE, content_type="image/png")
    result = h.submission.submit(TENANT, "image_to_video", _image_body(), "k")
    assert result.status is JobStatus.PENDING
    ((_operation, sent),) = h.runway.creates
    assert sent["promptImage"] == "https://in-ok.s3.test/frames/first.png?X-Amz-Expires=43200"
    assert {k: v for k, v in sent.items() if k != "promptImage"} == {
        k: v for k, v in _image_body().items() if k != "promptImage"
    }
    job = h.jobs.get(result.job_id)
    assert job is not None
    assert job.request_body is not None
    assert job.request_body["promptImage"] == IMAGE  # no expiring URL is stored
    # The fingerprint is the s3:// body's: the same key and body replay the job.
    again = h.submission.submit(TENANT, "image_to_video", _image_body(), "k")
    assert (again.job_id, again.created) == (result.job_id, False)
    assert len(h.runway.creates) == 1


def test_a_bucket_outside_the_allow_list_is_refused_without_looking(h: Harness) -> None:
    refused = _refused(h, "image_to_video", _image_body("s3://elsewhere/x.png"))
    assert refused.code == "s3_bucket_not_allowed"
    assert "in-ok, in-too" in refused.message
    assert h.inputs.heads == []


def test_without_an_allow_list_every_bucket_is_refused() -> None:
    h = build()
    h.inputs.put(IMAGE)
    assert _refused(h, "image_to_video", _image_body()).code == "s3_bucket_not_allowed"


def test_a_missing_object_is_refused(h: Harness) -> None:
    refused = _refused(h, "image_to_video", _image_body("s3://in-ok/nothing-here.png"))
    assert refused.code == "s3_input_not_found"
    assert "promptImage" in refused.message


def test_an_object_the_bridge_cannot_read_is_refused(h: Harness) -> None:
    h.inputs.forbidden.add("in-too")
    assert _refused(h, "image_to_video", _image_body("s3://in-too/a.png")).code == "s3_input_forbidden"


def test_an_object_over_runways_cap_for_its_kind_is_refused(h: Harness) -> None:
    cap = URL_INPUT_MAX_BYTES["video"]
    h.inputs.put("s3://in-ok/big.mp4", size=cap + 1, content_type="video/mp4")
    body = {"model": "upscale_v1", "videoUri": "s3://in-ok/big.mp4"}
    refused = _refused(h, "video_upscale", body)
    assert refused.code == "s3_input_too_large"
    h.inputs.put("s3://in-ok/big.mp4", size=cap, content_type="video/mp4")  # at the cap: taken
    assert h.submission.submit(TENANT, "video_upscale", body, "k").status is JobStatus.PENDING


@pytest.mark.parametrize("content_type", ["video/mp4", "application/octet-stream", None])
def test_an_object_of_another_media_type_is_refused(h: Harness, content_type: str | None) -> None:
    h.inputs.put(IMAGE, content_type=content_type)
    refused = _refused(h, "image_to_video", _image_body())
    assert refused.code == "s3_input_wrong_type"
    assert "image/*" in refused.message


def test_a_reference_input_is_checked_against_its_own_type(h: Harness) -> None:
    h.inputs.put("s3://in-ok/face.mp4", content_type="video/mp4")
    h.inputs.put("s3://in-ok/act.mp4", content_type="video/mp4")
    body = {
        "model": "act_two",
        "character": {"type": "image", "uri": "s3://in-ok/face.mp4"},  # says image, is a video
        "reference": {"type": "video", "uri": "s3://in-ok/act.mp4"},
    }
    assert _refused(h, "character_performance", body).code == "s3_input_wrong_type"
    body["character"] = {"type": "video", "uri": "s3://in-ok/face.mp4"}
    assert h.submission.submit(TENANT, "character_performance", body, "k").status is JobStatus.PENDING
    ((_, sent),) = h.runway.creates
    assert sent["character"]["uri"].startswith("https://in-ok.s3.test/face.mp4?")
    assert sent["reference"]["uri"].startswith("https://in-ok.s3.test/act.mp4?")
    assert sent["character"]["type"] == "video"


def test_an_event_with_a_refused_input_is_rejected_with_its_code(h: Harness) -> None:
    h.keys_store.put(
        ApiKeyRecord(key_hash="hash", tenant_id=TENANT, name="k", created_at=T0, revoked_at=None)
    )
    detail = {"tenantId": TENANT, "operation": "image_to_video", "body": _image_body("s3://other/a.png")}
    result = h.submission.submit_event("ev-s3", detail)
    assert (result.job_id, result.rejection_code) == (None, "s3_bucket_not_allowed")
    assert [r.code for r in h.rejections.rejections] == ["s3_bucket_not_allowed"]
    assert h.runway.creates == []


def _queued_after_a_429(h: Harness) -> str:
    h.inputs.put(IMAGE)
    h.runway.create_answers.append(rate_limited())
    queued = h.submission.submit(TENANT, "image_to_video", _image_body(), "k")
    assert queued.status is JobStatus.QUEUED
    return queued.job_id


def test_a_deferred_send_presigns_afresh_at_the_moment_it_sends(h: Harness) -> None:
    job_id = _queued_after_a_429(h)
    h.clock.advance(60)
    sent = h.submission.submit_queued(job_id, budget_s=20)
    assert sent is not None
    assert sent.status is JobStatus.PENDING
    assert len(h.inputs.presigned) == 2  # one per create sent, none stored
    assert all(body["promptImage"].startswith("https://in-ok.s3.test/") for _, body in h.runway.creates)


def test_a_deferred_send_whose_object_vanished_fails_the_job_unsent(h: Harness) -> None:
    job_id = _queued_after_a_429(h)
    del h.inputs.objects[("in-ok", "frames/first.png")]
    ended = h.submission.submit_queued(job_id, budget_s=20)
    assert ended is not None
    assert (ended.status, ended.failure_code) == (JobStatus.FAILED, BRIDGE_INPUT_MISSING)
    assert "no such object" in (ended.failure or "")
    assert len(h.runway.creates) == 1  # only the one Runway refused with 429


def test_a_deferred_send_whose_object_changed_kind_fails_the_job_unsent(h: Harness) -> None:
    job_id = _queued_after_a_429(h)
    h.inputs.put(IMAGE, content_type="text/plain")
    ended = h.submission.submit_queued(job_id, budget_s=20)
    assert ended is not None
    assert (ended.status, ended.failure_code) == (JobStatus.FAILED, BRIDGE_INPUT_REFUSED)
    assert len(h.runway.creates) == 1


# --- input_delivery "upload": Runway's upload flow instead of a presigned GET ------------------------


def test_upload_delivery_sends_the_bytes_through_runways_upload_flow() -> None:
    h = build(input_buckets=["in-ok"], input_delivery="upload")
    h.inputs.put(IMAGE, size=1234, content_type="image/png")
    h.inputs.put("s3://in-ok/frames/no-extension", size=10, content_type="image/webp")
    result = h.submission.submit(TENANT, "image_to_video", _image_body(), "k")
    assert result.status is JobStatus.PENDING
    ((_, sent),) = h.runway.creates
    assert sent["promptImage"] == "runway://uploads/first.png"
    assert h.runway.uploaded == [("first.png", "image/png", 1234)]
    # The upload leaves the create its minimum time out of the submit's budget.
    budget = h.settings.api_submit_budget_s - h.settings.submit_min_send_s
    assert 0 < h.runway.upload_budgets[0] <= budget
    assert h.inputs.presigned == []
    job = h.jobs.get(result.job_id)
    assert job is not None
    assert job.request_body is not None
    assert job.request_body["promptImage"] == IMAGE
    # A key Runway would not take as a file name is named after its content type.
    h.submission.submit(TENANT, "image_to_video", _image_body("s3://in-ok/frames/no-extension"), "k2")
    assert h.runway.uploaded[-1] == ("input.webp", "image/webp", 10)


def test_an_upload_that_fails_sends_no_create_and_leaves_the_job_queued() -> None:
    h = build(input_buckets=["in-ok"], input_delivery="upload")
    h.inputs.put(IMAGE)
    h.runway.upload_answer = unavailable()
    result = h.submission.submit(TENANT, "image_to_video", _image_body(), "k")
    assert result.status is JobStatus.QUEUED
    assert h.runway.creates == []
    assert h.starter.started == [result.job_id]  # the poller sends it when it can
