"""The fleet's figures from what a run saw (no stack): a job never terminal is lost, a job that made
two Runway tasks is a double create, a task no job knows is counted, latencies go per tenant and the
small tenants' p95 leaves the flood out."""

from __future__ import annotations

from runway_bridge_dev.fleet import JobRecord, Scenario, TenantLoad, format_report, summarize

PREFIX = "fleet:run1:"
SCENARIO = Scenario(
    tenants=(
        TenantLoad("flood", 3, start_s=0.0, span_s=0.0, flood=True),
        TenantLoad("small1", 2, start_s=0.0, span_s=1.0),
    )
)


def job(
    tenant: str, index: int, status: str | None, task_id: str | None, latency_s: float | None
) -> JobRecord:
    return JobRecord(
        tenant=tenant,
        marker=f"{PREFIX}{tenant}:{index}",
        submitted_at=1000.0,
        job_id=f"job-{tenant}-{index}",
        webhook_type=None if latency_s is None else "task.succeeded",
        webhook_at=None if latency_s is None else 1000.0 + latency_s,
        status=status,
        runway_task_id=task_id,
    )


def task(task_id: str, tenant: str, index: int) -> dict[str, str]:
    return {"id": task_id, "promptText": f"a misty valley [{PREFIX}{tenant}:{index}]"}


def test_lost_doubled_orphaned_and_latencies_are_counted() -> None:
    records = [
        job("flood", 0, "SUCCEEDED", "t1", 100.0),
        job("flood", 1, "RUNNING", "t2", None),  # never terminal: lost
        job("flood", 2, "SUBMISSION_UNKNOWN", None, 50.0),
        job("small1", 0, "SUCCEEDED", "t3", 10.0),
        job("small1", 1, "FAILED", "t4", 20.0),
    ]
    tasks = [
        task("t1", "flood", 0),
        task("t2", "flood", 1),
        task("t2b", "flood", 1),  # a second task for the same job: a double create
        task("t5", "flood", 2),  # its create was dropped: no job knows the task
        task("t3", "small1", 0),
        task("t4", "small1", 1),
        {"id": "other", "promptText": "another run's task"},
    ]
    counters = {"tasks_created": 6, "GET /v1/tasks/{id}": 8, "POST /v1/image_to_video": 7}
    report = summarize("flood", SCENARIO, records, counters=counters, tasks=tasks, marker_prefix=PREFIX)

    assert report.overall.lost == 1
    assert report.overall.statuses == {"FAILED": 1, "RUNNING": 1, "SUBMISSION_UNKNOWN": 1, "SUCCEEDED": 2}
    assert report.doubled_jobs == 1
    assert report.shared_task_ids == 0
    assert report.crossed_jobs == 0
    assert report.jobs_with_task_id == 4
    assert report.orphan_tasks == 3  # t2b, t5 and the other run's task
    assert report.runway_creates == 6
    assert report.runway_create_requests == 7
    assert report.runway_gets_per_job == 2.0
    flood, small = report.tenants
    assert (flood.lost, flood.without_webhook, flood.latency_median_s) == (1, 1, 75.0)
    assert (flood.jobs_with_task_id, flood.runway_tasks) == (2, 4)
    assert (small.lost, small.latency_median_s, small.latency_p95_s) == (0, 15.0, 20.0)
    assert (small.jobs_with_task_id, small.runway_tasks) == (2, 2)
    assert report.overall.runway_tasks == 6
    assert report.small_tenants_p95_s == 20.0
    assert "small1" in format_report(report)


def test_a_task_id_claimed_by_two_jobs_is_reported() -> None:
    records = [job("small1", 0, "SUCCEEDED", "t1", 5.0), job("small1", 1, "SUCCEEDED", "t1", 6.0)]
    report = summarize(
        "x", SCENARIO, records, counters={}, tasks=[task("t1", "small1", 0)], marker_prefix=PREFIX
    )
    assert report.shared_task_ids == 1
    assert report.orphan_tasks == 0


def test_a_job_whose_task_was_made_from_another_jobs_request_is_counted() -> None:
    # Job 1's create carried job 0's prompt: job 0 has two tasks, job 1 none of its own.
    records = [job("small1", 0, "SUCCEEDED", "t1", 5.0), job("small1", 1, "SUCCEEDED", "t2", 6.0)]
    tasks = [task("t1", "small1", 0), task("t2", "small1", 0)]
    report = summarize("x", SCENARIO, records, counters={}, tasks=tasks, marker_prefix=PREFIX)
    assert (report.crossed_jobs, report.doubled_jobs, report.shared_task_ids) == (1, 1, 0)
    assert "1 jobs whose task carries another job's request" in format_report(report)
