"""Two poller runs started together over 200 active jobs: leases keep them off each other's jobs, so
every job is handed to the copier exactly once and ends with exactly one terminal status and one
outbox event."""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from runway_bridge.adapters.poller.state import DynamoPollerState
from runway_bridge.models.job import AT_RUNWAY, JobStatus, is_terminal
from runway_bridge_dev.local.stack import LocalStack
from tests.e2e.api.conftest import new_tenant
from tests.integration.poller.conftest import jobs_store, start_poller_stack, submit, wait_until

# 200 jobs through two runs and the copier take about 3 minutes on 2 cores: more than the suite's
# default per-test limit leaves for a loaded CI machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

JOBS = 200
AT_RUNWAY_VALUES = frozenset(status.value for status in AT_RUNWAY)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    running = start_poller_stack()
    try:
        yield running
    finally:
        running.stop()


def test_two_runs_together_over_200_jobs_copy_each_exactly_once(stack: LocalStack) -> None:
    tenant = new_tenant("two")
    state = DynamoPollerState(stack.aws.boto3_client("dynamodb"), stack.aws.physical_id("JobsTable"))
    # While the jobs are submitted, a (pretend) live run holds the marker, so the submit path starts
    # no run of its own: the two runs below start together over a full backlog.
    assert state.claim_run("held-during-setup", now=time.time(), hold_s=600)
    started = time.monotonic()
    with (
        httpx.Client(base_url=stack.api_url, timeout=60) as api,
        concurrent.futures.ThreadPoolExecutor(8) as pool,
    ):
        job_ids = list(pool.map(lambda _: submit(api, tenant, "sound_effect"), range(JOBS)))
    submitted_s = time.monotonic() - started
    assert len(set(job_ids)) == JOBS
    state.release_run("held-during-setup")

    sfn = stack.aws.boto3_client("stepfunctions")
    machine = stack.aws.physical_id("PollerStateMachine")
    # Helpers skip the run marker, as two runs do when one's marker expired during a slow round:
    # only the per-job leases keep them apart.
    for run_id in ("overlap-a", "overlap-b"):
        sfn.start_execution(
            stateMachineArn=machine, name=run_id, input=json.dumps({"runId": run_id, "helper": True})
        )
    store = jobs_store(stack)
    dynamodb = stack.aws.boto3_client("dynamodb")
    table = stack.aws.physical_id("JobsTable")

    def statuses() -> dict[str, str]:
        # One cheap read per probe (the poller and copier share this machine's cores with it).
        found: dict[str, str] = {}
        request = {
            "TableName": table,
            "IndexName": "by-tenant",
            "KeyConditionExpression": "tenantId = :tenant",
            "ExpressionAttributeValues": {":tenant": {"S": tenant.tenant_id}},
        }
        while True:
            page = dynamodb.query(**request)
            found.update({item["jobId"]["S"]: item["status"]["S"] for item in page["Items"]})
            if "LastEvaluatedKey" not in page:
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def all_handed_off() -> bool:
        now = statuses()
        return len(now) == JOBS and all(status not in AT_RUNWAY_VALUES for status in now.values())

    def all_finished() -> bool:
        now = statuses()
        return len(now) == JOBS and all(is_terminal(JobStatus(status)) for status in now.values())

    runs_started = time.monotonic()
    wait_until(all_handed_off, timeout_s=300, interval_s=2.0)
    handed_off_s = time.monotonic() - runs_started
    # The copies run on the local SQS poller (two at a time, unlike Lambda's scale-out).
    wait_until(all_finished, timeout_s=420, interval_s=2.0)
    finished_s = time.monotonic() - runs_started
    print(
        f"\n{JOBS} jobs: submitted through the API in {submitted_s:.1f} s; after the two runs started, "
        f"all checked and handed to the copier in {handed_off_s:.1f} s, all copied in {finished_s:.1f} s"
    )

    wanted = set(job_ids)
    round_function = stack.aws.physical_id("PollDueFunction")
    copy_function = stack.aws.physical_id("CopyOutputsFunction")
    handed_to_copier: Counter[str] = Counter()
    checks_by_run: Counter[str] = Counter()
    copier_runs: Counter[str] = Counter()
    for call in list(stack.aws.runner.invocations):
        if call.function_name == round_function and isinstance(call.result, dict):
            for check in call.result.get("checks", []):
                if check.get("jobId") in wanted:
                    checks_by_run[str(call.result.get("runId"))] += 1
                    if check.get("outcome") == "COPY":
                        handed_to_copier[check["jobId"]] += 1
        elif call.function_name == copy_function:
            for record in call.event.get("Records", []):
                job_id = json.loads(record["body"]).get("jobId")
                if job_id in wanted:
                    copier_runs[job_id] += 1
    # Both runs really worked on the backlog at the same time.
    assert checks_by_run["overlap-a"] > 0
    assert checks_by_run["overlap-b"] > 0
    assert handed_to_copier == Counter(dict.fromkeys(job_ids, 1))
    assert copier_runs == Counter(dict.fromkeys(job_ids, 1))
    for job_id in job_ids:
        job = store.get(job_id)
        assert job is not None
        assert job.status is JobStatus.SUCCEEDED
        assert len(job.outputs) == 1
        assert [event.type for event in store.outbox_events(job_id)] == ["task.succeeded"]
