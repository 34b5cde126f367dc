"""Outputs copied to a tenant's own bucket: the destination taken on the job decides the bucket and
key prefix, the copy is the same (parts with checksums, sha256/size tags, reruns keep finished
work), a bucket the stack no longer allows fails the job, and the key setup's write check runs the
copy's own calls there."""

from __future__ import annotations

import hashlib

import pytest

from runway_bridge.errors import ObjectStoreError
from runway_bridge.logic.copy.job import CopyResult
from runway_bridge.logic.copy.streaming import WRITE_CHECK_KEY
from runway_bridge.models.job import BRIDGE_COPY_FAILED, Job, JobOutput, JobStatus
from runway_bridge.models.tenant import OutputDestination
from tests.unit.builders import ending, new_job
from tests.unit.copy.conftest import CopyWorld
from tests.unit.fakes import FakeMultipartStore
from tests.unit.fakes.copy import StoredObject
from tests.unit.fakes.runway import task
from tests.unit.harness import TENANT, Harness

URL = "https://cdn.runway.test/out-0.mp4"
VIDEO = b"\x00\x00\x00\x18ftypmp42 a tenant's video"
DESTINATION = OutputDestination(bucket="t-out", prefix="p/")


class RefusingStore(FakeMultipartStore):
    """A bucket whose policy does not let the copier start uploads."""

    def start(self, key: str, *, content_type: str, metadata: object) -> str:  # type: ignore[override]
        raise ObjectStoreError(f"could not start the upload of {key} (AccessDenied)", retryable=True)


class World(CopyWorld):
    def __init__(self, allowed: frozenset[str] = frozenset({"t-out"})) -> None:
        self.tenant_stores: dict[str, FakeMultipartStore] = {
            "t-out": FakeMultipartStore("t-out"),
            "t-locked": RefusingStore("t-locked"),
        }
        super().__init__(tenant_store=self.tenant_stores.__getitem__, output_buckets=allowed)

    def copying(self, destination: OutputDestination | None = DESTINATION) -> Job:
        job = new_job(status=JobStatus.COPYING, runway_task_id="t-1", output_destination=destination)
        self.jobs.create(job)
        self.runway.tasks["t-1"] = [task("t-1", "SUCCEEDED", output=[URL])]
        self.source.answers[URL] = [VIDEO]
        return job


def test_outputs_go_to_the_destination_taken_on_the_job_with_their_tags() -> None:
    w = World()
    job = w.copying()
    result, after = w.copy(job)
    assert (result, after.status) == (CopyResult.SUCCEEDED, JobStatus.SUCCEEDED)
    key = f"p/outputs/{job.job_id}/0.mp4"
    tenant = w.tenant_stores["t-out"]
    sha256 = hashlib.sha256(VIDEO).hexdigest()
    assert after.outputs == [
        JobOutput(
            index=0, s3_uri=f"s3://t-out/{key}", sha256=sha256, content_type="video/mp4", size=len(VIDEO)
        )
    ]
    assert tenant.bodies == {key: VIDEO}
    assert tenant.objects[key].tags == {"sha256": sha256, "size": str(len(VIDEO))}
    assert w.store.objects == {}  # nothing in the bridge's bucket


def test_a_job_without_a_destination_still_goes_to_the_bridges_bucket() -> None:
    w = World()
    job = w.copying(destination=None)
    w.copy(job)
    assert list(w.store.bodies) == [f"outputs/{job.job_id}/0.mp4"]
    assert w.tenant_stores["t-out"].objects == {}


@pytest.mark.parametrize("recorded", [False, True])
def test_a_rerun_keeps_the_finished_copy_in_the_tenants_bucket(recorded: bool) -> None:
    w = World()
    job = w.copying()
    key = f"p/outputs/{job.job_id}/0.mp4"
    sha256 = hashlib.sha256(VIDEO).hexdigest()
    tenant = w.tenant_stores["t-out"]
    # An earlier delivery finished the copy (tagged last), then died before (or after) the job write.
    tenant.objects[key] = StoredObject(
        size=len(VIDEO),
        content_type="video/mp4",
        metadata={"source-task-id": "t-1"},
        tags={"sha256": sha256, "size": str(len(VIDEO))},
    )
    if recorded:
        output = JobOutput(
            index=0, s3_uri=f"s3://t-out/{key}", sha256=sha256, content_type="video/mp4", size=len(VIDEO)
        )
        job = w.jobs.update(job, changes={"outputs": [output]})
    result, after = w.copy(job)
    assert result is CopyResult.SUCCEEDED
    assert [output.s3_uri for output in after.outputs] == [f"s3://t-out/{key}"]
    assert w.source.opened == []  # not downloaded again


def test_a_bucket_the_stack_no_longer_allows_fails_the_job_and_writes_nothing() -> None:
    w = World(allowed=frozenset())
    job = w.copying()
    result, after = w.copy(job)
    assert (result, after.status, after.failure_code) == (
        CopyResult.FAILED,
        JobStatus.FAILED,
        BRIDGE_COPY_FAILED,
    )
    assert "t-out" in (after.failure or "")
    assert "OutputBuckets" in (after.failure or "")
    assert w.source.opened == []
    assert w.tenant_stores["t-out"].objects == {}


def test_the_write_check_makes_the_copys_calls_under_the_prefix() -> None:
    w = World()
    check = w.copier.check_destination(DESTINATION)
    assert (check.code, check.writable) == ("writable", True)
    stored = w.tenant_stores["t-out"].objects[f"p/{WRITE_CHECK_KEY}"]
    assert set(stored.tags) == {"sha256", "size"}
    assert w.tenant_stores["t-out"].uploads == {}


@pytest.mark.parametrize(
    ("destination", "allowed", "code", "says"),
    [
        (OutputDestination(bucket="elsewhere"), frozenset({"t-out"}), "not_allowed", "allowed: t-out"),
        (DESTINATION, frozenset(), "not_allowed", "allowed: none"),
        (OutputDestination(bucket="t-locked"), frozenset({"t-locked"}), "not_writable", "AccessDenied"),
    ],
)
def test_the_write_check_refuses_with_the_reason(
    destination: OutputDestination, allowed: frozenset[str], code: str, says: str
) -> None:
    w = World(allowed)
    check = w.copier.check_destination(destination)
    assert (check.code, check.writable) == (code, False)
    assert says in check.message
    assert w.tenant_stores["t-out"].objects == {}


def test_deleting_a_finished_job_leaves_its_outputs_in_the_tenants_bucket(h: Harness) -> None:
    job = new_job(
        TENANT,
        status=JobStatus.COPYING,
        runway_task_id="t-1",
        request_s3_key="requests/x.json",
        output_destination=DESTINATION,
    )
    h.jobs.create(job)
    output = JobOutput(
        index=0, s3_uri="s3://t-out/p/outputs/x/0.mp4", sha256="0" * 64, content_type="video/mp4", size=3
    )
    h.jobs.transition(
        job,
        JobStatus.SUCCEEDED,
        changes={"outputs": [output]},
        event=ending(job, JobStatus.SUCCEEDED)["event"],
    )
    assert h.tasks.get_view(TENANT, job.job_id).output == [
        "https://objects.test/t-out/p/outputs/x/0.mp4?expires=3600"
    ]
    h.tasks.delete(TENANT, job.job_id)
    assert h.jobs.get(job.job_id) is None
    assert h.objects.deleted == ["requests/x.json"]


def test_the_write_check_refuses_a_bucket_in_another_region_before_writing() -> None:
    w = World()
    w.tenant_stores["t-out"].region_error = ObjectStoreError(
        "bucket t-out is in eu-west-1 and the bridge in us-east-1", retryable=False
    )
    check = w.copier.check_destination(DESTINATION)
    assert check.code == "not_writable"
    assert "eu-west-1" in check.message
    assert w.tenant_stores["t-out"].objects == {}
