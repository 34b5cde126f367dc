"""Notification lag benchmark (run by hand): how long after a job's outputs are in S3 its signed
webhook arrives, and its SNS message reaches a subscribed queue.

    .venv/bin/python bench/notification_lag.py               # 20 jobs
    .venv/bin/python bench/notification_lag.py --jobs 50 --seed 3

The whole local stack runs as `make dev` runs it (template defaults, emulator "fast" profile), in
this process. A plain HTTP receiver on 127.0.0.1 verifies every signature with `standardwebhooks`
and notes when each event arrived; an SQS queue subscribed to the notifications topic is drained by
a thread that notes when each message was received. Per job, the reference moment is the job's
`updatedAt` when it became SUCCEEDED (written by the copier once the outputs are in S3), so the
figures cover the stream, the relay, the webhook queue and the deliverer, not the copy itself.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
import warnings
from datetime import datetime

import httpx

from runway_bridge_dev.emulator import EmulatorConfig
from runway_bridge_dev.local.stack import LocalStack
from runway_bridge_dev.webhooks import Arrival, WebhookArrivals, allow_loopback_callbacks, webhook_receiver

SUCCEEDED = frozenset({"task.succeeded"})
BODY = {"model": "gen4.5", "promptText": "a red fox in snow", "ratio": "1280:720", "duration": 5}


def read_queue(stack: LocalStack, queue_url: str, arrivals: WebhookArrivals, stop: threading.Event) -> None:
    sqs = stack.aws.boto3_client("sqs")
    while not stop.is_set():
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        at = time.time()
        for message in batch.get("Messages", []):
            notification = json.loads(message["Body"])
            arrivals.note(
                notification["id"], Arrival(notification["type"], notification["data"]["jobId"], at)
            )
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def subscribed_queue(stack: LocalStack) -> str:
    sqs = stack.aws.boto3_client("sqs")
    url = str(sqs.create_queue(QueueName="bench-notifications")["QueueUrl"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.aws.boto3_client("sns").subscribe(
        TopicArn=str(stack.aws.resolve({"Ref": "NotificationsTopic"})),
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return url


def summary(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"{name:<34} n={len(ordered):3d}  median {statistics.median(ordered) * 1000:7.0f} ms"
        f"  p95 {p95 * 1000:7.0f} ms  max {ordered[-1] * 1000:7.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout-s", type=float, default=300)
    args = parser.parse_args()

    # The receiver is plain HTTP on loopback, as with `make dev`.
    allow_loopback_callbacks()
    started = time.monotonic()
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # no EMF lines between the figures
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    stack = LocalStack(
        emulator_config=EmulatorConfig(profile="fast", seed=args.seed),
        parameters={"LogLevel": "WARNING"},  # the functions' INFO lines would bury the figures
    ).start()
    print(f"stack up in {time.monotonic() - started:.1f} s", flush=True)
    stop = threading.Event()
    try:
        from runway_bridge_dev.keys_cli import create_key  # noqa: PLC0415  (needs the stack's environment)

        created = create_key("bench-lag", "bench")
        on_sns, webhook = WebhookArrivals(), WebhookArrivals()
        queue_url = subscribed_queue(stack)
        threading.Thread(target=read_queue, args=(stack, queue_url, on_sns, stop), daemon=True).start()
        with webhook_receiver(created.webhook_secret or "", webhook) as url:
            headers = {"Authorization": f"Bearer {created.api_key}"}
            with httpx.Client(base_url=stack.api_url, timeout=30, headers=headers) as api:
                submitted: dict[str, float] = {}
                for _ in range(args.jobs):
                    at = time.time()
                    answer = api.post("/v1/text_to_video", json={**BODY, "callbackUrl": url})
                    answer.raise_for_status()
                    submitted[answer.json()["id"]] = at
                print(f"{args.jobs} jobs submitted", flush=True)
                deadline = time.monotonic() + args.timeout_s
                shown = ""
                while (
                    len(webhook.first_by_job(SUCCEEDED)) < args.jobs
                    or len(on_sns.first_by_job(SUCCEEDED)) < args.jobs
                ):
                    if time.monotonic() > deadline:
                        raise SystemExit(
                            f"timed out: {len(webhook.first_by_job({'task.succeeded'}))} webhooks, "
                            f"{len(on_sns.first_by_job({'task.succeeded'}))} SNS messages of {args.jobs}"
                        )
                    time.sleep(0.2)
                    progress = (
                        f"  webhooks {len(webhook.first_by_job({'task.succeeded'}))}/{args.jobs}"
                        f"  SNS {len(on_sns.first_by_job({'task.succeeded'}))}/{args.jobs}"
                    )
                    if progress != shown:
                        print(f"\r{progress}", end="", flush=True)
                        shown = progress
                print()
                stored_at = {
                    job_id: datetime.fromisoformat(
                        api.get(f"/v1/tasks/{job_id}").json()["bridge"]["updatedAt"]
                    ).timestamp()
                    for job_id in submitted
                }
        hooks, sns = webhook.first_by_job(SUCCEEDED), on_sns.first_by_job(SUCCEEDED)
        print(summary("outputs in S3 -> webhook arrives", [hooks[j] - stored_at[j] for j in submitted]))
        print(summary("outputs in S3 -> SNS message in SQS", [sns[j] - stored_at[j] for j in submitted]))
        print(summary("submit -> webhook arrives", [hooks[j] - submitted[j] for j in submitted]))
    finally:
        stop.set()
        stack.stop()


if __name__ == "__main__":
    main()
