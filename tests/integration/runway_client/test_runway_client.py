"""The Runway client against the emulator over loopback HTTP: every operation, errors, retries,
budgets, and the create rule (a create that may have reached Runway is never resent)."""

from __future__ import annotations

import socket
import struct
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from runway_bridge.adapters.runway.client import RunwayClient
from runway_bridge.errors import (
    RunwayAuthenticationError,
    RunwayConnectionError,
    RunwayNotFoundError,
    RunwayRateLimitedError,
    RunwayServerError,
    RunwaySubmissionUnknownError,
    RunwayTimeoutError,
    RunwayValidationError,
)
from runway_bridge.models.operations import OPERATIONS, REGISTRY, Operation
from runway_bridge.models.runway import (
    CancelledTask,
    PendingTask,
    SucceededTask,
    TextToVideoRequest,
    UploadResponse,
)
from runway_bridge.observability import metrics
from runway_bridge_dev.emulator import RunwayEmulator
from tests.integration.runway_client.conftest import FAST_CLOCK, ClientFactory
from tests.integration.runway_client.scripted_server import ScriptedAnswer, ScriptedServer

VIDEO = "https://media.example.com/input.mp4"
IMAGE = "https://media.example.com/input.png"
# Each operation's valid body is its registry sample (models/operations.py).
VALID_BODIES: dict[Operation, dict[str, Any]] = {spec.name: dict(spec.sample_body) for spec in REGISTRY}
TEXT_TO_VIDEO = {"model": "gen4.5", "promptText": "a lighthouse at dusk", "ratio": "1280:720"}
# Slack for scheduling noise on a loaded 2-core machine when checking that budgets hold.
BUDGET_SLACK_S = 0.35


def tiny_png() -> bytes:
    """A valid 1x1 PNG, so the upload is a real image file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x80\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.01)


# --- Happy paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_operation_creates_a_task_that_can_be_read(
    operation: Operation, client: RunwayClient, emulator: RunwayEmulator
) -> None:
    task_id = client.create_task(operation, VALID_BODIES[operation], budget_s=5)

    task = client.get_task(task_id, budget_s=5)
    assert task.id == task_id
    assert task.status in {"PENDING", "RUNNING", "THROTTLED", "SUCCEEDED"}
    counters = emulator.counters()
    assert counters[f"POST /v1/{operation}"] == 1
    assert counters["tasks_created"] == 1


def test_request_model_is_sent_as_runway_json_and_task_runs_to_success(
    client: RunwayClient, emulator: RunwayEmulator
) -> None:
    body = TextToVideoRequest.model_validate({**TEXT_TO_VIDEO, "duration": 5})
    emulator.update(clock_speed=0.1)  # PENDING lasts seconds, so a loaded machine still sees it
    task_id = client.create_task("text_to_video", body, budget_s=5)

    assert isinstance(client.get_task(task_id, budget_s=5), PendingTask)
    emulator.update(clock_speed=FAST_CLOCK)
    wait_until(lambda: client.get_task(task_id, budget_s=5).status == "SUCCEEDED")
    task = client.get_task(task_id, budget_s=5)
    assert isinstance(task, SucceededTask)
    assert task.cost is not None
    assert task.cost.credits > 0
    video = httpx.get(task.output[0], timeout=5)
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"


def test_delete_cancels_an_unfinished_task_and_deletes_a_finished_one(
    client: RunwayClient, emulator: RunwayEmulator
) -> None:
    emulator.update(clock_speed=1.0)  # the task stays unfinished for seconds
    task_id = client.create_task("text_to_video", TEXT_TO_VIDEO, budget_s=5)

    client.delete_task(task_id, budget_s=5)
    assert isinstance(client.get_task(task_id, budget_s=5), CancelledTask)

    client.delete_task(task_id, budget_s=5)
    with pytest.raises(RunwayNotFoundError):
        client.get_task(task_id, budget_s=5)


def test_upload_yields_a_runway_uri_the_api_accepts_as_input(
    client: RunwayClient, emulator: RunwayEmulator
) -> None:
    uri = client.upload("face.png", tiny_png(), "image/png", budget_s=5)

    assert uri.startswith("runway://")
    task_id = client.create_task(
        "image_to_video", {"model": "gen4_turbo", "promptImage": uri, "ratio": "960:960"}, budget_s=5
    )
    assert client.get_task(task_id, budget_s=5).id == task_id
    # An upload that was never completed is not usable: the emulator refuses it, like Runway.
    unfinished = client.create_upload("other.png", budget_s=5)
    with pytest.raises(RunwayValidationError, match="runway://"):
        client.create_task(
            "image_to_video", {"model": "gen4_turbo", "promptImage": unfinished.runway_uri}, budget_s=5
        )
    assert emulator.counters()["tasks_created"] == 1


def test_upload_form_never_carries_the_api_key(
    make_client: ClientFactory, scripted: Callable[[list[ScriptedAnswer]], ScriptedServer]
) -> None:
    storage = scripted([ScriptedAnswer(204)])
    client = make_client("http://127.0.0.1:9", "secret-runway-key")
    upload = UploadResponse.model_validate(
        {
            "uploadUrl": f"{storage.base_url}/bucket",
            "fields": {"key": "k1", "policy": "p"},
            "runwayUri": "runway://k1",
        }
    )

    assert client.upload_bytes(upload, b"RIFF....", "a.wav", "audio/wav", budget_s=5) == "runway://k1"

    (request,) = storage.requests
    assert "authorization" not in {name.lower() for name in request.headers}
    assert b"secret-runway-key" not in request.body
    # The storage form: every policy field, then the file.
    assert request.body.index(b'name="key"') < request.body.index(b'name="file"; filename="a.wav"')
    assert b"RIFF...." in request.body


# --- Errors that are never retried ------------------------------------------------------------


def test_validation_error_carries_runways_message_and_is_not_retried(
    client: RunwayClient, emulator: RunwayEmulator
) -> None:
    with pytest.raises(RunwayValidationError) as raised:
        client.create_task("text_to_video", {**TEXT_TO_VIDEO, "model": "gen2"}, budget_s=5)

    assert "model" in raised.value.message
    assert raised.value.code == "INVALID_REQUEST"
    assert raised.value.status_code == 400
    assert emulator.counters()["POST /v1/text_to_video"] == 1
    assert emulator.counters()["tasks_created"] == 0


def test_wrong_key_is_an_authentication_error_sent_once(
    make_client: ClientFactory, emulator: RunwayEmulator
) -> None:
    client = make_client(emulator.base_url, "not-the-key")

    with pytest.raises(RunwayAuthenticationError):
        client.create_task("text_to_video", TEXT_TO_VIDEO, budget_s=5)
    with pytest.raises(RunwayAuthenticationError):
        client.get_task("00000000-0000-0000-0000-000000000000", budget_s=5)

    assert emulator.counters()["POST /v1/text_to_video"] == 1
    assert emulator.counters()["GET /v1/tasks/{id}"] == 1


def test_unknown_task_is_not_found_and_not_retried(client: RunwayClient, emulator: RunwayEmulator) -> None:
    with pytest.raises(RunwayNotFoundError):
        client.get_task("00000000-0000-0000-0000-000000000000", budget_s=5)
    with pytest.raises(RunwayNotFoundError):
        client.delete_task("00000000-0000-0000-0000-000000000000", budget_s=5)

    assert emulator.counters()["GET /v1/tasks/{id}"] == 1
    assert emulator.counters()["DELETE /v1/tasks/{id}"] == 1


def test_task_id_cannot_escape_the_tasks_path(client: RunwayClient, emulator: RunwayEmulator) -> None:
    with pytest.raises(RunwayNotFoundError):
        client.get_task("../uploads", budget_s=5)
    assert emulator.counters()["GET /v1/tasks/{id}"] == 1


# --- Retries within the budget ------------------------------------------------------------------


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_short_storm_is_survived_within_the_budget(
    status: int, client: RunwayClient, emulator: RunwayEmulator
) -> None:
    task_id = client.create_task("text_to_video", TEXT_TO_VIDEO, budget_s=5)
    emulator.reset_counters()
    emulator.update(fail_next=[status] * 3)

    started = time.monotonic()
    task = client.get_task(task_id, budget_s=3)

    assert task.id == task_id
    assert time.monotonic() - started < 3
    assert emulator.counters()["GET /v1/tasks/{id}"] == 4


def test_uploads_and_deletes_retry_through_a_storm_too(
    client: RunwayClient, emulator: RunwayEmulator
) -> None:
    emulator.update(clock_speed=1.0)  # the task stays unfinished for seconds
    task_id = client.create_task("text_to_video", TEXT_TO_VIDEO, budget_s=5)
    emulator.update(fail_next=[503, 502])
    client.delete_task(task_id, budget_s=3)
    emulator.update(fail_next=[504, 429])
    uri = client.upload("clip.mp4", b"\x00\x00\x00\x18ftypisom", "video/mp4", budget_s=3)

    counters = emulator.counters()
    assert counters["DELETE /v1/tasks/{id}"] == 3
    assert counters["POST /v1/uploads"] == 3
    assert isinstance(client.get_task(task_id, budget_s=5), CancelledTask)
    assert uri.startswith("runway://")


class OversleepingClock:
    """A clock for the client that moves only when it sleeps, and then by more than asked: a busy
    machine whose waits overrun. Deterministic, whatever the real load."""

    def __init__(self, oversleep_s: float) -> None:
        self.now = 0.0
        self.oversleep_s = oversleep_s
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds + self.oversleep_s


def test_a_storm_longer_than_the_budget_raises_the_server_error_in_time(
    make_client: ClientFactory, emulator: RunwayEmulator
) -> None:
    # Each wait fits in the budget, but overruns: the budget is gone at the top of the third attempt.
    clock = OversleepingClock(oversleep_s=0.45)
    client = make_client(
        emulator.base_url,
        emulator.api_key,
        max_attempts=100,
        backoff_max_s=0.02,
        clock=clock,
        sleep=clock.sleep,
    )
    emulator.update(fail_next=[503] * 500)

    with pytest.raises(RunwayServerError) as raised:
        client.get_task("00000000-0000-0000-0000-000000000000", budget_s=1.0)

    assert raised.value.status_code == 503  # the last answer, not "no budget left"
    assert emulator.counters()["GET /v1/tasks/{id}"] == 3
    assert clock.now >= 1.0


def test_a_budget_spent_before_any_answer_is_a_timeout(make_client: ClientFactory) -> None:
    clock = OversleepingClock(oversleep_s=0.0)
    client = make_client(f"http://127.0.0.1:{closed_port()}", "key", clock=clock, sleep=clock.sleep)

    with pytest.raises(RunwayTimeoutError, match="no budget left"):
        client.get_task("00000000-0000-0000-0000-000000000000", budget_s=0.0)


def test_a_create_refused_until_the_budget_runs_out_raises_the_refusal_not_not_sent(
    make_client: ClientFactory, emulator: RunwayEmulator
) -> None:
    # 429s are safe to resend; when the budget runs out before the next send, the caller learns
    # Runway's refusal (with its Retry-After), not a bare "not sent".
    clock = OversleepingClock(oversleep_s=0.4)
    client = make_client(
        emulator.base_url, emulator.api_key, max_attempts=100, clock=clock, sleep=clock.sleep
    )
    emulator.update(fail_next=[429] * 50)

    with pytest.raises(RunwayRateLimitedError):
        client.create_task("text_to_video", TEXT_TO_VIDEO, budget_s=1.0)
    assert emulator.counters()["POST /v1/text_to_video"] >= 2
    assert emulator.counters()["tasks_created"] == 0


def test_max_attempts_bounds_the_retries(make_client: ClientFactory, emulator: RunwayEmulator) -> None:
    client = make_client(emulator.base_url, emulator.api_key, max_attempts=3)
    emulator.update(fail_next=[502] * 10)

    with pytest.raises(RunwayServerError):
        client.get_task("00000000-0000-0000-0000-000000000000", budget_s=10)
    assert emulator.counters()["GET /v1/tasks/{id}"] == 3


def test_a_500_is_not_retried(client: RunwayClient, emulator: RunwayEmulator) -> None:
    emulator.update(fail_next=[500])
    with pytest.raises(RunwayServerError):
        client.get_task("00000000-0000-0000-0000-000000000000", budget_s=5)
    assert emulator.counters()["GET /v1/tasks/{id}"] == 1


def test_retry_after_seconds_is_honoured(client: RunwayClient, emulator: RunwayEmulator) -> None:
    task_id = client.create_task("text_to_video", TEXT_TO_VIDEO, budget_s=5)
    emulator.update(fail_next=[429], retry_after_s=0.6)

    started = time.monotonic()
    client.get_task(task_id, budget_s=5)

    # The client's own backoff is at most 0.02 s here: only the header explains the wait.
    assert time.monotonic() - started >= 0.6
    assert emulator.counters()["GET /v1/tasks/{id}"] == 2


def test_retry_after_beyond_the_budget_raises_at_once(client: RunwayClient, emulator: RunwayEmulator) -> None:
    emulator.update(fail_next=[503], retry_after_s=30)

    started = time.monotonic()
    with pytest.raises(RunwayServerError) as raised:
        client.get_task("00000000-0000-0000-0000-000000000000", budget_s=2)

    assert time.monotonic() - started < 0.5
    assert raised.value.retry_after_s == 30
    assert emulator.counters()["GET /v1/tasks/{id}"] == 1


def test_retry_after_as_an_http_date_is_honoured(
    make_client: ClientFactory, scripted: Callable[[list[ScriptedAnswer]], ScriptedServer]
) -> None:
    # An HTTP date has whole seconds: the retry is due at `retry_at`, 2-3 s from now.
    retry_at = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    task = {"id": "t-1", "status": "RUNNING", "progress": 0.5}
    server = scripted(
        [
            ScriptedAnswer(
                429, {"error": "slow down"}, {"Retry-After": format_datetime(retry_at, usegmt=True)}
            ),
            ScriptedAnswer(200, task),
        ]
    )
    client = make_client(server.base_url, "key")

    assert client.get_task("t-1", budget_s=6).status == "RUNNING"

    # The client's own backoff is at most 0.02 s here: only the date explains being this late.
    assert datetime.now(UTC) >= retry_at
    assert len(server.requests) == 2


def test_daily_cap_429_on_create_is_raised_with_its_retry_after(
    client: RunwayClient, emulator: RunwayEmulator
) -> None:
    emulator.update(daily_cap=0)

    with pytest.raises(RunwayRateLimitedError) as raised:
        client.create_task("text_to_video", TEXT_TO_VIDEO, budget_s=2)

    # The cap resets in hours: waiting does not fit in 2 s, so the client does not even try.
    assert raised.value.retry_after_s is not None
    assert raised.value.retry_after_s > 2
    assert emulator.counters()["POST /v1/text_to_video"] == 1
    assert emulator.counters()["tasks_created"] == 0


def test_get_timeouts_are_retried(make_client: ClientFactory, emulator: RunwayEmulator) -> None:
    def sleep_then_heal(seconds: float) -> None:
        emulator.update(latency_s=0.0)
        time.sleep(seconds)

    client = make_client(emulator.base_url, emulator.api_key, read_timeout=0.3, sleep=sleep_then_heal)
    task_id = client.create_task("text_to_video", TEXT_TO_VIDEO, budget_s=5)
    emulator.update(latency_s=1.0)

    assert client.get_task(task_id, budget_s=5).id == task_id
    assert emulator.counters()["GET /v1/tasks/{id}"] == 2


def test_get_that_keeps_timing_out_raises_a_timeout_within_the_budget(
    make_client: ClientFactory, emulator: RunwayEmulator
) -> None:
    client = make_client(emulator.base_url, emulator.api_key, read_timeout=0.3, max_attempts=50)
    emulator.update(latency_s=0.6)

    started = time.monotonic()
    with pytest.raises(RunwayTimeoutError):
        client.get_task("00000000-0000-0000-0000-000000000000", budget_s=1.2)

    assert time.monotonic() - started <= 1.2 + BUDGET_SLACK_S
    assert emulator.counters()["GET /v1/tasks/{id}"] >= 2


def test_get_on_a_closed_port_retries_then_raises_connection_error(make_client: ClientFactory) -> None:
    planned: list[float] = []

    def recording_sleep(seconds: float) -> None:
        planned.append(seconds)
        time.sleep(seconds)

    client = make_client(f"http://127.0.0.1:{closed_port()}", "key", sleep=recording_sleep)

    with pytest.raises(RunwayConnectionError):
        client.get_task("t-1", budget_s=2)
    assert len(planned) >= 1


def test_delete_whose_answer_was_lost_then_404_counts_as_done(
    make_client: ClientFactory, scripted: Callable[[list[ScriptedAnswer]], ScriptedServer]
) -> None:
    # The first DELETE may have been processed (502 from a proxy); the retry finds nothing left.
    server = scripted([ScriptedAnswer(502, {"error": "bad gateway"}), ScriptedAnswer(404, {"error": "gone"})])
    client = make_client(server.base_url, "key")

    client.delete_task("t-1", budget_s=5)

    assert [request.method for request in server.requests] == ["DELETE", "DELETE"]


def test_requests_carry_the_bearer_key_and_the_api_version(
    make_client: ClientFactory, scripted: Callable[[list[ScriptedAnswer]], ScriptedServer]
) -> None:
    server = scripted([ScriptedAnswer(200, {"id": "t-1", "status": "PENDING"})])
    client = make_client(server.base_url, "key-123")

    client.get_task("t-1", budget_s=5)

    (request,) = server.requests
    assert request.headers["Authorization"] == "Bearer key-123"
    assert request.headers["X-Runway-Version"] == "2024-11-06"
    assert request.path == "/v1/tasks/t-1"


# --- The create rule ------------------------------------------------------------------------------


def test_429_on_create_is_retried_and_creates_one_task(
    client: RunwayClient, emulator: RunwayEmulator
) -> None:
    emulator.update(fail_next=[429, 429])

    task_id = client.create_task("text_to_video", TEXT_TO_VIDEO, budget_s=5)

    assert client.get_task(task_id, budget_s=5).id == task_id
    assert emulator.counters()["POST /v1/text_to_video"] == 3
    assert emulator.counters()["tasks_created"] == 1


def test_429_retries_can_be_turned_off_for_the_api_path(
    client: RunwayClient, emulator: RunwayEmulator
) -> None:
    emulator.update(fail_next=[429])

    with pytest.raises(RunwayRateLimitedError):
        client.create_task("text_to_video", TEXT_TO_VIDEO, budget_s=5, retry_rate_limited=False)
    assert emulator.counters()["POST /v1/text_to_video"] == 1
    assert emulator.counters()["tasks_created"] == 0


def test_dropped_create_is_submission_unknown_and_never_resent(
    client: RunwayClient, emulator: RunwayEmulator
) -> None:
    emulator.update(drop_next_creates=1)

    with pytest.raises(RunwaySubmissionUnknownError) as raised:
        client.create_task("text_to_video", TEXT_TO_VIDEO, budget_s=5)

    assert isinstance(raised.value.cause, RunwayConnectionError)
    assert isinstance(raised.value.__cause__, httpx.RemoteProtocolError)
    counters = emulator.counters()
    assert counters["POST /v1/text_to_video"] == 1
    # Runway really did create (and charge) the task the caller never heard about.
    assert counters["tasks_created"] == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_create_is_submission_unknown_and_never_resent(
    status: int, client: RunwayClient, emulator: RunwayEmulator
) -> None:
    emulator.update(fail_next=[status] * 3)

    with pytest.raises(RunwaySubmissionUnknownError) as raised:
        client.create_task("text_to_video", TEXT_TO_VIDEO, budget_s=5)

    assert isinstance(raised.value.cause, RunwayServerError)
    assert raised.value.status_code == status
    assert emulator.counters()["POST /v1/text_to_video"] == 1


def test_create_read_timeout_is_submission_unknown_and_never_resent(
    make_client: ClientFactory, emulator: RunwayEmulator
) -> None:
    client = make_client(emulator.base_url, emulator.api_key, read_timeout=0.3)
    emulator.update(latency_s=0.8)

    with pytest.raises(RunwaySubmissionUnknownError) as raised:
        client.create_task("text_to_video", TEXT_TO_VIDEO, budget_s=5)

    assert isinstance(raised.value.cause, RunwayTimeoutError)
    assert isinstance(raised.value.__cause__, httpx.ReadTimeout)
    assert emulator.counters()["POST /v1/text_to_video"] == 1
    # The emulator accepted it while the client had stopped listening.
    wait_until(lambda: emulator.counters()["tasks_created"] == 1)


def test_create_on_a_closed_port_is_retried_then_raises_connection_error(
    make_client: ClientFactory, emulator: RunwayEmulator
) -> None:
    planned: list[float] = []

    def recording_sleep(seconds: float) -> None:
        planned.append(seconds)
        time.sleep(seconds)

    client = make_client(
        f"http://127.0.0.1:{closed_port()}", emulator.api_key, sleep=recording_sleep, max_attempts=100
    )
    budget_s = 1.0

    started = time.monotonic()
    with pytest.raises(RunwayConnectionError) as raised:
        client.create_task("text_to_video", TEXT_TO_VIDEO, budget_s=budget_s)
    elapsed = time.monotonic() - started

    assert isinstance(raised.value.__cause__, httpx.ConnectError)
    assert len(planned) >= 2  # nothing was ever sent, so it was safe to try again
    assert elapsed <= budget_s + BUDGET_SLACK_S
    assert emulator.counters()["tasks_created"] == 0


def test_create_with_too_little_budget_is_not_sent(
    make_client: ClientFactory, emulator: RunwayEmulator
) -> None:
    client = make_client(emulator.base_url, emulator.api_key, min_create_window_s=0.5)

    with pytest.raises(RunwayTimeoutError, match="not sent"):
        client.create_task("text_to_video", TEXT_TO_VIDEO, budget_s=0.2)
    assert emulator.counters().get("POST /v1/text_to_video", 0) == 0


def test_accepted_create_without_a_readable_id_is_submission_unknown(
    make_client: ClientFactory, scripted: Callable[[list[ScriptedAnswer]], ScriptedServer]
) -> None:
    server = scripted([ScriptedAnswer(200, {"unexpected": True})])
    client = make_client(server.base_url, "key")

    with pytest.raises(RunwaySubmissionUnknownError):
        client.create_task("text_to_video", TEXT_TO_VIDEO, budget_s=5)
    assert len(server.requests) == 1


def test_retries_never_log_the_api_key(
    make_client: ClientFactory, emulator: RunwayEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    key = "sk-distinctive-runway-key-4711"
    emulator.update(api_key=key)
    client = make_client(emulator.base_url, key)
    task_id = client.create_task("text_to_video", TEXT_TO_VIDEO, budget_s=5)
    emulator.update(fail_next=[503, 429], drop_next_creates=1)

    client.get_task(task_id, budget_s=5)
    with pytest.raises(RunwaySubmissionUnknownError):
        client.create_task("text_to_video", TEXT_TO_VIDEO, budget_s=5)

    # Every attribute of every record, extras included: what any log handler could write out.
    logged = " ".join(repr(vars(record)) for record in caplog.records)
    assert "retrying" in logged
    assert "will not be resent" in logged
    assert key not in logged


def test_every_runway_answer_is_counted_by_method_and_429s_apart(
    client: RunwayClient, emulator: RunwayEmulator
) -> None:
    """The dashboard's Runway GETs and 429s: one metric per answer, whatever the retry loop did."""

    def counted(name: str) -> float:
        values = metrics.metric_set.get(name, {}).get("Value", [])
        return float(sum(values)) if isinstance(values, list) else float(values)

    metrics.clear_metrics()
    try:
        task_id = client.create_task("text_to_video", TEXT_TO_VIDEO, budget_s=5)
        emulator.update(fail_next=[429, 429])
        client.get_task(task_id, budget_s=5)
        assert counted("RunwayPOST") == 1
        assert counted("RunwayGET") == 3  # two 429s, then the answer
        assert counted("RunwayRateLimited") == 2
    finally:
        metrics.clear_metrics()
