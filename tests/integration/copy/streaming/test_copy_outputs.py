"""The output copier over real loopback HTTP (the Runway emulator, or a tiny server that misbehaves)
into moto S3: bytes, hashes, keys, content types, idempotent reruns, crashes, expiry, broken bodies."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import httpx
import pytest

from runway_bridge.adapters.copy.outputs import S3MultipartStore
from runway_bridge.errors import OutputExpiredError, OutputFetchError
from runway_bridge.logic.copy.streaming import MIB, CopyPolicy, copy_task_outputs, extension_for
from runway_bridge.settings import BridgeSettings
from runway_bridge_dev.emulator import RunwayEmulator
from tests.integration.copy.streaming.conftest import (
    CountingSource,
    copy_fresh_outputs,
    no_refresh,
    open_uploads,
    succeeded_task,
)

SMALL_PARTS = CopyPolicy(part_bytes=5 * MIB, sleep=lambda _seconds: None)


def _object_bytes(s3: Any, bucket: str, key: str) -> bytes:
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def test_copies_bytes_hash_and_content_type_of_a_video(
    runway: httpx.Client, source: CountingSource, store: S3MultipartStore, s3: Any, bucket: str
) -> None:
    task = succeeded_task(runway)
    served = httpx.get(task["output"][0])

    [output] = copy_fresh_outputs(
        task,
        job_id="job-1",
        source=source,
        store=store,
        policy=SMALL_PARTS,
    )

    assert output.s3_uri == f"s3://{bucket}/outputs/job-1/0.mp4"
    assert output.sha256 == hashlib.sha256(served.content).hexdigest()
    assert output.size == len(served.content)
    assert output.content_type == "video/mp4"
    assert _object_bytes(s3, bucket, "outputs/job-1/0.mp4") == served.content
    head = s3.head_object(Bucket=bucket, Key="outputs/job-1/0.mp4")
    assert head["ContentType"] == "video/mp4"
    assert head["ServerSideEncryption"] == "AES256"
    assert head["Metadata"]["source-task-id"] == task["id"]
    tags = {
        tag["Key"]: tag["Value"]
        for tag in s3.get_object_tagging(Bucket=bucket, Key="outputs/job-1/0.mp4")["TagSet"]
    }
    assert tags == {"sha256": output.sha256, "size": str(output.size)}
    assert open_uploads(s3, bucket) == []


def test_a_20_mib_output_goes_up_in_5_mib_parts_with_the_right_bytes(
    emulator: RunwayEmulator,
    runway: httpx.Client,
    source: CountingSource,
    store: S3MultipartStore,
    s3: Any,
    bucket: str,
) -> None:
    emulator.update(output_padding_bytes=20 * MIB)
    task = succeeded_task(runway)
    served = httpx.get(task["output"][0], timeout=30).content
    assert len(served) > 20 * MIB

    [output] = copy_fresh_outputs(
        task,
        job_id="job-big",
        source=source,
        store=store,
        policy=SMALL_PARTS,
    )

    stored = _object_bytes(s3, bucket, "outputs/job-big/0.mp4")
    assert stored == served
    assert output.sha256 == hashlib.sha256(served).hexdigest()
    # ETag of a multipart object ends in "-<number of parts>": 20 MiB and a bit -> 5 parts of 5 MiB.
    assert s3.head_object(Bucket=bucket, Key="outputs/job-big/0.mp4")["ETag"].strip('"').endswith("-5")


def test_a_rerun_neither_downloads_nor_uploads_again(
    runway: httpx.Client, source: CountingSource, store: S3MultipartStore, s3: Any, bucket: str
) -> None:
    task = succeeded_task(runway)
    arguments: dict[str, Any] = {
        "job_id": "job-2",
        "task_id": task["id"],
        "output_urls": task["output"],
        "refresh_urls": no_refresh,
        "source": source,
        "store": store,
        "policy": SMALL_PARTS,
    }
    first = copy_task_outputs(**arguments)
    before = s3.head_object(Bucket=bucket, Key="outputs/job-2/0.mp4")
    downloads = len(source.requests)
    assert downloads == 1

    recorded_rerun = copy_task_outputs(**arguments, recorded=first)
    unrecorded_rerun = copy_task_outputs(**arguments)  # the job write was lost: S3 still knows

    assert recorded_rerun == first
    assert unrecorded_rerun == first
    assert len(source.requests) == downloads
    after = s3.head_object(Bucket=bucket, Key="outputs/job-2/0.mp4")
    assert (after["ETag"], after["LastModified"]) == (before["ETag"], before["LastModified"])


def test_a_recorded_hash_that_s3_does_not_hold_is_copied_again(
    runway: httpx.Client, source: CountingSource, store: S3MultipartStore
) -> None:
    task = succeeded_task(runway)
    arguments: dict[str, Any] = {
        "job_id": "job-3",
        "task_id": task["id"],
        "output_urls": task["output"],
        "refresh_urls": no_refresh,
        "source": source,
        "store": store,
    }
    [first] = copy_task_outputs(**arguments)
    wrong = first.model_copy(update={"sha256": "0" * 64})

    [again] = copy_task_outputs(**arguments, recorded=[wrong])

    assert again == first
    assert len(source.requests) == 2


class SimulatedCrash(BaseException):
    """Stands for the process dying (Lambda timeout, OOM kill): no cleanup code runs."""


def test_a_copy_killed_mid_upload_leaves_no_object_and_the_retry_cleans_up(
    emulator: RunwayEmulator,
    runway: httpx.Client,
    source: CountingSource,
    store: S3MultipartStore,
    s3: Any,
    bucket: str,
) -> None:
    emulator.update(output_padding_bytes=16 * MIB)
    task = succeeded_task(runway)

    def crash_after_second_part(number: int) -> None:
        if number == 2:
            raise SimulatedCrash

    arguments: dict[str, Any] = {
        "job_id": "job-4",
        "task_id": task["id"],
        "output_urls": task["output"],
        "refresh_urls": no_refresh,
        "source": source,
        "store": store,
    }
    with pytest.raises(SimulatedCrash):
        copy_task_outputs(
            **arguments, policy=CopyPolicy(part_bytes=5 * MIB, after_part=crash_after_second_part)
        )
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert [upload["Key"] for upload in open_uploads(s3, bucket)] == ["outputs/job-4/0.mp4"]

    [output] = copy_task_outputs(**arguments, policy=SMALL_PARTS)

    served = httpx.get(task["output"][0], timeout=30).content
    assert _object_bytes(s3, bucket, "outputs/job-4/0.mp4") == served
    assert output.sha256 == hashlib.sha256(served).hexdigest()
    assert open_uploads(s3, bucket) == []


def test_an_expired_url_is_refreshed_from_the_task_and_the_copy_succeeds(
    emulator: RunwayEmulator,
    runway: httpx.Client,
    source: CountingSource,
    store: S3MultipartStore,
    s3: Any,
    bucket: str,
) -> None:
    emulator.update(output_url_ttl_s=2.0)  # emulator seconds: 0.1 s of real time at 20x
    task = succeeded_task(runway)
    stale = task["output"]
    deadline = time.monotonic() + 5
    while httpx.head(stale[0]).status_code != 403:
        assert time.monotonic() < deadline, "the output URL never expired"
        time.sleep(0.05)
    emulator.update(output_url_ttl_s=3600.0)
    refreshes: list[str] = []

    def refresh() -> list[str]:
        refreshes.append(task["id"])
        fresh: list[str] = runway.get(f"/v1/tasks/{task['id']}").json()["output"]
        return fresh

    [output] = copy_task_outputs(
        job_id="job-5",
        task_id=task["id"],
        output_urls=stale,
        refresh_urls=refresh,
        source=source,
        store=store,
    )

    assert refreshes == [task["id"]]
    served = httpx.get(runway.get(f"/v1/tasks/{task['id']}").json()["output"][0]).content
    assert output.sha256 == hashlib.sha256(served).hexdigest()
    assert _object_bytes(s3, bucket, "outputs/job-5/0.mp4") == served


def test_urls_that_stay_expired_give_up_after_the_allowed_refreshes(
    emulator: RunwayEmulator,
    runway: httpx.Client,
    source: CountingSource,
    store: S3MultipartStore,
    s3: Any,
    bucket: str,
) -> None:
    task = succeeded_task(runway)
    expired = [task["output"][0].replace("signature=", "signature=0")]
    refreshes: list[int] = []

    def refresh() -> list[str]:
        refreshes.append(1)
        return expired

    with pytest.raises(OutputExpiredError):
        copy_task_outputs(
            job_id="job-6",
            task_id=task["id"],
            output_urls=expired,
            refresh_urls=refresh,
            source=source,
            store=store,
            policy=CopyPolicy(max_url_refreshes=2),
        )
    assert len(refreshes) == 2
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert open_uploads(s3, bucket) == []


def test_a_sound_effect_is_stored_as_wav(
    runway: httpx.Client, source: CountingSource, store: S3MultipartStore, s3: Any, bucket: str
) -> None:
    task = succeeded_task(runway, "sound_effect", model="sound_effect_v1", promptText="thunder")
    served = httpx.get(task["output"][0]).content

    [output] = copy_fresh_outputs(
        task,
        job_id="job-7",
        source=source,
        store=store,
    )

    assert output.s3_uri == f"s3://{bucket}/outputs/job-7/0.wav"
    assert output.content_type == "audio/wav"
    assert served[:4] == b"RIFF"
    assert _object_bytes(s3, bucket, "outputs/job-7/0.wav") == served
    assert s3.head_object(Bucket=bucket, Key="outputs/job-7/0.wav")["ContentType"] == "audio/wav"


# --- a server that misbehaves on purpose -------------------------------------------------------


class _FlakyOutput(BaseHTTPRequestHandler):
    """Serves `payload`; the first `cut_first` GETs send the full Content-Length, half the body,
    then drop the connection. Status `status_override` (if set) answers every GET instead."""

    payload = b""
    cut_first = 0
    status_override: int | None = None
    served = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        cls = type(self)
        with cls.lock:
            cls.served += 1
            attempt = cls.served
        if cls.status_override is not None:
            self.send_response(cls.status_override)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(cls.payload)))
        self.end_headers()
        if attempt <= cls.cut_first:
            self.wfile.write(cls.payload[: len(cls.payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(cls.payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def flaky_server() -> Iterator[tuple[str, type[_FlakyOutput]]]:
    handler = type(
        "FlakyOutput", (_FlakyOutput,), {"payload": os.urandom(12 * MIB), "lock": threading.Lock()}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/output.png", handler
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_a_download_cut_mid_body_restarts_cleanly_after_a_jittered_pause(
    flaky_server: tuple[str, type[_FlakyOutput]],
    source: CountingSource,
    store: S3MultipartStore,
    s3: Any,
    bucket: str,
) -> None:
    url, handler = flaky_server
    handler.cut_first = 1
    pauses: list[float] = []

    [output] = copy_task_outputs(
        job_id="job-8",
        task_id="task-8",
        output_urls=[url],
        refresh_urls=no_refresh,
        source=source,
        store=store,
        policy=CopyPolicy(part_bytes=5 * MIB, sleep=pauses.append),
    )

    assert handler.served == 2
    assert len(pauses) == 1
    assert 0.0 <= pauses[0] <= 0.5
    assert output.s3_uri == f"s3://{bucket}/outputs/job-8/0.png"
    assert output.sha256 == hashlib.sha256(handler.payload).hexdigest()
    assert _object_bytes(s3, bucket, "outputs/job-8/0.png") == handler.payload
    assert open_uploads(s3, bucket) == []


def test_a_download_that_keeps_breaking_fails_after_bounded_attempts_and_leaves_nothing(
    flaky_server: tuple[str, type[_FlakyOutput]],
    source: CountingSource,
    store: S3MultipartStore,
    s3: Any,
    bucket: str,
) -> None:
    url, handler = flaky_server
    handler.cut_first = 100

    with pytest.raises(OutputFetchError):
        copy_task_outputs(
            job_id="job-9",
            task_id="task-9",
            output_urls=[url],
            refresh_urls=no_refresh,
            source=source,
            store=store,
            policy=CopyPolicy(part_bytes=5 * MIB, max_fetch_attempts=3, sleep=lambda _s: None),
        )

    assert handler.served == 3
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert open_uploads(s3, bucket) == []


@pytest.mark.parametrize(("status", "attempts"), [(400, 1), (503, 3)])
def test_only_transient_http_errors_are_retried(
    flaky_server: tuple[str, type[_FlakyOutput]],
    source: CountingSource,
    store: S3MultipartStore,
    status: int,
    attempts: int,
) -> None:
    url, handler = flaky_server
    handler.status_override = status

    with pytest.raises(OutputFetchError):
        copy_task_outputs(
            job_id="job-10",
            task_id="task-10",
            output_urls=[url],
            refresh_urls=no_refresh,
            source=source,
            store=store,
            policy=CopyPolicy(max_fetch_attempts=3, sleep=lambda _s: None),
        )
    assert handler.served == attempts


@pytest.mark.parametrize(
    ("content_type", "extension"),
    [
        ("video/mp4", "mp4"),
        ("audio/wav", "wav"),
        ("audio/x-wav", "wav"),
        ("image/png; q=1", "png"),
        ("image/jpeg", "jpg"),
        ("application/x-unknown-thing", "bin"),
        ("", "bin"),
    ],
)
def test_extension_follows_the_content_type(content_type: str, extension: str) -> None:
    assert extension_for(content_type) == extension


def test_parts_below_s3s_minimum_are_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        CopyPolicy(part_bytes=MIB)


def test_with_a_kms_key_set_objects_are_encrypted_with_it(
    runway: httpx.Client, source: CountingSource, s3: Any, bucket: str, moto_endpoint: str
) -> None:
    kms = boto3.client("kms", endpoint_url=moto_endpoint, region_name="us-east-1")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    settings = BridgeSettings(bucket_name=bucket, output_kms_key_id=key_id, copy_part_bytes=5 * MIB)
    task = succeeded_task(runway)

    copy_fresh_outputs(
        task,
        job_id="job-11",
        source=source,
        store=S3MultipartStore.from_settings(s3, settings),
        policy=CopyPolicy.from_settings(settings),
    )

    head = s3.head_object(Bucket=bucket, Key="outputs/job-11/0.mp4")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert key_id in head["SSEKMSKeyId"]
