"""A tenant's own output destination, end to end on `runway-bridge dev` (started with
`--parameter OutputBuckets=t-out,t-missing`), as an operator and a caller see it: the key setup
checks the destination through the copier function (a Lambda invoke the local runtime runs), a
job's output lands in the tenant's bucket under its prefix with matching tags, and the task view's
URL, the CLI's download and the webhook's stable link all serve those same bytes. A bucket outside
the allow-list, and an allowed bucket that does not exist, are refused and nothing is stored."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from tests.e2e.cli.conftest import Process, read_profile, run

pytestmark = pytest.mark.slow

ALLOWED = "t-out"
MISSING = "t-missing"  # allowed by the stack, never created


@pytest.fixture(scope="module")
def dev(env: dict[str, str], workdir: Path) -> Iterator[Process]:
    process = Process(
        ["dev", "--port", "0", "--parameter", f"OutputBuckets={ALLOWED},{MISSING}"], env, workdir
    )
    try:
        process.wait_for_line(lambda line: "Ctrl-C stops." in line, timeout_s=180)
        yield process
    finally:
        assert process.stop() == 0


@pytest.fixture(scope="module")
def aws(dev: Process, env: dict[str, str]) -> dict[str, Any]:
    """Clients of the dev stack's moto (what an operator's AWS console would show)."""
    profile = read_profile(env)
    options = {
        "endpoint_url": profile["aws_endpoint_url"],
        "region_name": profile["region"],
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    s3 = boto3.client("s3", **options)
    s3.create_bucket(Bucket=ALLOWED)
    return {
        "s3": s3,
        "dynamodb": boto3.client("dynamodb", **options),
        "keys_table": profile["api_keys_table"],
    }


def tenant_items(aws: dict[str, Any], tenant: str) -> list[dict[str, Any]]:
    """Every item of the keys table about `tenant` (its keys and its tenant item)."""
    items: list[dict[str, Any]] = aws["dynamodb"].scan(TableName=aws["keys_table"])["Items"]
    return [
        item
        for item in items
        if item.get("tenantId", {}).get("S") == tenant or item["pk"]["S"] == f"TENANT#{tenant}"
    ]


def test_a_tenants_output_lands_in_its_bucket_and_every_link_serves_the_same_bytes(
    aws: dict[str, Any], env: dict[str, str], workdir: Path
) -> None:
    tenant = read_profile(env)["tenant_id"]  # the dev tenant: the listener verifies its webhooks
    created = run(
        ["keys", "create", "--tenant", tenant, "--name", "dest", "--output", f"s3://{ALLOWED}/p/", "--json"],
        env,
        workdir,
    )
    assert created.returncode == 0, created.stderr
    answer = json.loads(created.stdout)
    assert answer["output"] == f"s3://{ALLOWED}/p/"
    # The copier itself wrote its check object there.
    assert aws["s3"].head_object(Bucket=ALLOWED, Key="p/runway-bridge-write-check")["ContentLength"] > 0

    listener = Process(["webhooks", "listen", "--port", "0", "--json"], env, workdir)
    try:
        listener.wait_for_line(lambda line: line.startswith('{"listening"'), 60)
        done = run(
            [
                "generate", "text_to_video", "--prompt", "a fox in its own bucket", "--key", answer["apiKey"],
                "--wait", "--json", "-o", "out/dest.mp4",
            ],
            env,
            workdir,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr + done.stdout
        result = json.loads(done.stdout)
        job_id = result["id"]
        line = listener.wait_for_line(lambda text: '"verified": true' in text and job_id in text, 60)
    finally:
        listener.stop()

    key = f"p/outputs/{job_id}/0.mp4"
    stored = aws["s3"].get_object(Bucket=ALLOWED, Key=key)["Body"].read()
    sha256 = hashlib.sha256(stored).hexdigest()
    tags = {
        tag["Key"]: tag["Value"] for tag in aws["s3"].get_object_tagging(Bucket=ALLOWED, Key=key)["TagSet"]
    }
    assert tags == {"sha256": sha256, "size": str(len(stored))}
    [output] = result["task"]["bridge"]["outputs"]
    assert (output["s3Uri"], output["sha256"], output["size"]) == (
        f"s3://{ALLOWED}/{key}",
        sha256,
        len(stored),
    )
    assert (workdir / "out" / "dest.mp4").read_bytes() == stored  # the CLI downloaded the view's url
    others = [bucket["Name"] for bucket in aws["s3"].list_buckets()["Buckets"] if bucket["Name"] != ALLOWED]
    assert others  # the bridge's own bucket holds no copy of it
    for other in others:
        assert "Contents" not in aws["s3"].list_objects_v2(Bucket=other, Prefix=f"outputs/{job_id}/")

    with httpx.Client(trust_env=False, timeout=30, follow_redirects=True) as http:
        assert http.get(output["url"]).content == stored
        event = json.loads(line)["event"]
        [notified] = event["data"]["outputs"]
        followed = http.get(notified["link"])  # the stable link: 302 to a fresh presign
        assert followed.history[0].status_code == 302
        assert followed.history[0].headers["Location"].split("?")[0].endswith(f"/{ALLOWED}/{key}")
        assert followed.content == stored


@pytest.mark.parametrize(
    ("bucket", "says"),
    [("not-listed", "not in the stack's OutputBuckets"), (MISSING, "NoSuchBucket")],
)
def test_a_destination_the_copier_may_not_or_cannot_write_is_refused_and_nothing_is_stored(
    aws: dict[str, Any], env: dict[str, str], workdir: Path, bucket: str, says: str
) -> None:
    tenant = f"refused-{bucket}"
    created = run(
        ["keys", "create", "--tenant", tenant, "--max-in-flight", "2", "--output", f"s3://{bucket}/p/"],
        env,
        workdir,
    )
    assert created.returncode == 1
    assert says in created.stderr
    assert "nothing was stored" in created.stderr
    assert "key:" not in created.stdout
    assert tenant_items(aws, tenant) == []

    updated = run(["keys", "update", "--tenant", tenant, "--output", f"s3://{bucket}/p/"], env, workdir)
    assert updated.returncode == 1
    assert says in updated.stderr
    assert tenant_items(aws, tenant) == []
