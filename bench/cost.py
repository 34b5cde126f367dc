"""Cost benchmark (run by hand): what a job costs on AWS, from the requests it makes on the local stack.

    .venv/bin/python bench/cost.py                    # 10 jobs submitted together
    .venv/bin/python bench/cost.py --jobs 1           # a job alone
    .venv/bin/python bench/cost.py --jobs 5 --spacing-s 90   # jobs that never overlap

The whole local stack runs as `make dev` runs it (template defaults: log level INFO, metrics on),
in this process, with the meter of `runway_bridge_dev.local.metering` counting every AWS call the
functions make, by service and operation, plus what AWS itself does and bills for the glue the local
runtime stands in for (SQS event-source polling, Step Functions Express runs, Scheduler firings).
The emulated Runway runs each task for --task-s seconds and serves one output of --output-mb MB; a
receiver on 127.0.0.1 takes one signed webhook per job. First each schedule of the template is fired
once on an idle stack (an empty tick), then the jobs run until every one is SUCCEEDED and its webhook
arrived; the counts of that phase, divided by the jobs, are priced with PRICES below.

Figures are list prices, free tiers not applied. Counted: requests, invocations, DynamoDB units
(estimated from item sizes and the template's indexes), log bytes. Modelled (not observed):
Lambda's idle SQS long-polls, X-Ray traces, KMS calls AWS services make for encryption, Lambda's
platform log lines; see the notes printed with the figures.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from collections import Counter

import httpx

from runway_bridge_dev.emulator import EmulatorConfig
from runway_bridge_dev.local import metering
from runway_bridge_dev.local.sqs_poller import SqsPoller
from runway_bridge_dev.local.stack import LocalStack
from runway_bridge_dev.webhooks import WebhookArrivals, allow_loopback_callbacks, webhook_receiver

MODEL = "gen4.5"
BODY = {"model": MODEL, "promptText": "a red fox in snow", "ratio": "1280:720", "duration": 5}
GOAL_PER_1000_JOBS = 0.10
GOAL_IDLE_PER_MONTH = 3.00
SECONDS_PER_MONTH = 30 * 24 * 3600

# --- public list prices, us-east-1, as of December 2026; free tiers not applied -------------------
PRICES = {
    "lambda_request": 0.20 / 1e6,  # per invocation
    "lambda_gb_second_arm64": 0.0000133334,  # per GB-second, billed per ms
    "apigw_rest_request": 3.50 / 1e6,  # REST API, first 333 M a month
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB chunk of a request
    "sns_publish": 0.50 / 1e6,  # per published message (64 KB chunk)
    "events_put": 1.00 / 1e6,  # custom events on a bus, per 64 KB entry
    "scheduler_invocation": 1.00 / 1e6,  # EventBridge Scheduler
    "express_request": 1.00 / 1e6,  # Step Functions Express, per execution
    "express_gb_second": 0.00001667,  # billed per 100 ms at 64 MB steps
    "dynamodb_wru": 0.625 / 1e6,  # on-demand write request unit
    "dynamodb_rru": 0.125 / 1e6,  # on-demand read request unit
    "s3_put_class": 0.005 / 1000,  # PUT, COPY, POST, LIST, multipart parts
    "s3_get_class": 0.0004 / 1000,  # GET, HEAD and the rest
    "s3_gb_month": 0.023,  # S3 Standard storage
    "secrets_api": 0.05 / 10_000,
    "secret_month": 0.40,
    "kms_request": 0.03 / 10_000,
    "kms_key_month": 1.00,  # customer managed key
    "xray_trace_recorded": 5.00 / 1e6,
    "logs_ingest_gb": 0.50,  # CloudWatch Logs standard ingestion
    "alarm_month": 0.10,  # standard-resolution metric alarm
    "alarm_month_high_resolution": 0.30,
    "dashboard_month": 3.00,
    "custom_metric_month": 0.30,  # first 10,000 metrics
}
# Modelled, not observed.
# X-Ray's default sampling rule records this share of requests beyond the first each second.
DEFAULT_SAMPLED_FRACTION = 0.05
LAMBDA_PLATFORM_LOG_BYTES = 350  # START, END and REPORT lines (with the X-Ray segment) per invocation
SQS_IDLE_POLLS_PER_MONTH = 5 * 3 * 60 * 24 * 30  # Lambda: 5 long-polls of 20 s per SQS event source
S3_PUT_CLASS = frozenset(
    {
        "PutObject",
        "CopyObject",
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPartCopy",
        "CompleteMultipartUpload",
        "ListObjects",
        "ListObjectsV2",
        "ListMultipartUploads",
        "ListParts",
        "PutObjectTagging",
    }
)
S3_FREE = frozenset({"DeleteObject", "DeleteObjects", "AbortMultipartUpload"})
SUCCEEDED = frozenset({"task.succeeded"})


# --- waiting for a quiet stack ----------------------------------------------------------------------


def _activity(usage: metering.Usage) -> int:
    """Calls that mean work is going on (not idle polling, not the bench's own)."""
    return sum(
        count
        for (who, _, operation), count in usage.calls.items()
        if who not in (metering.LOCAL, metering.STREAM_EVENT_SOURCE) and operation != metering.EMPTY_RECEIVE
    ) + sum(usage.invocations.values())


def wait_quiet(meter: metering.Meter, *, quiet_s: float = 3.0, timeout_s: float = 330.0) -> None:
    """Until no Express run is going and nothing happened for `quiet_s`."""
    deadline = time.monotonic() + timeout_s
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = _activity(meter.snapshot())
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s and not running_express():
            return
        time.sleep(0.2)
    raise SystemExit("the stack never went quiet")


def running_express() -> bool:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends  # noqa: PLC0415

    for regions in list(stepfunctions_parser_backends.values()):
        for backend in list(regions.values()):
            for machine in list(backend.state_machines):
                if any(getattr(e, "stop_date", 1) is None for e in list(getattr(machine, "executions", []))):
                    return True
    return False


# --- pricing -----------------------------------------------------------------------------------------


class Phase:
    """What one phase (an idle tick, the jobs) asked of AWS, and what that costs."""

    def __init__(
        self, usage: metering.Usage, express: list[metering.ExpressRun], stack: LocalStack, api_requests: int
    ) -> None:
        self.usage = usage
        self.express = express
        self.api_requests = api_requests
        functions = stack.aws.runner.functions
        self.memory_mb = {name: f.memory_mb for name, f in functions.items()}
        self.event_source_functions = {
            stack.aws.runner.get(p.source.function).function_name for p in stack.pollers.values()
        }
        modes = {
            str(stack.aws.resolve(resource["Properties"].get("TracingConfig", {}).get("Mode", "PassThrough")))
            for resource in (stack.aws.template.get("Resources") or {}).values()
            if resource.get("Type") == "AWS::Lambda::Function"
        }
        self.function_tracing = "Active" if "Active" in modes else "PassThrough"

    def requests(self) -> dict[str, Counter[str]]:
        """Service -> operation -> billed requests (functions' calls and the glue's)."""
        found: dict[str, Counter[str]] = {}
        for (who, service, operation), count in self.usage.calls.items():
            if (
                who == metering.LOCAL
                or who == metering.STREAM_EVENT_SOURCE
                or operation == metering.EMPTY_RECEIVE
            ):
                continue
            if who == metering.STATE_MACHINE and service == "lambda":
                continue  # the invocation itself is counted as a Lambda invocation
            found.setdefault(service, Counter())[operation] += count
        return found

    def costs(self) -> dict[str, float]:
        requests = self.requests()
        usage = self.usage
        cost: dict[str, float] = {}
        invocations = sum(usage.invocations.values())
        # The handlers' billed time less what they waited for the meter's own look-ups.
        gb_seconds = sum(
            self.billed_ms(name) / 1000 * self.memory_mb.get(name, 128) / 1024 for name in usage.billed_ms
        )
        cost["Lambda requests"] = invocations * PRICES["lambda_request"]
        # Wall time of the in-process handlers on this machine, not of Lambda's.
        cost["Lambda duration (local)"] = gb_seconds * PRICES["lambda_gb_second_arm64"]
        cost["API Gateway"] = self.api_requests * PRICES["apigw_rest_request"]
        cost["DynamoDB"] = (
            sum(usage.write_units.values()) * PRICES["dynamodb_wru"]
            + sum(usage.read_units.values()) * PRICES["dynamodb_rru"]
        )
        cost["SQS"] = sum(requests.get("sqs", Counter()).values()) * PRICES["sqs_request"]
        sns = requests.get("sns", Counter())
        cost["SNS"] = (sns["Publish"] + sns["PublishBatch"]) * PRICES["sns_publish"]
        cost["EventBridge"] = sum(requests.get("events", Counter()).values()) * PRICES["events_put"]
        cost["Scheduler"] = sum(usage.schedule_fires.values()) * PRICES["scheduler_invocation"]
        express_gb_s = sum(math.ceil(run.seconds * 10) / 10 * 64 / 1024 for run in self.express)
        cost["Step Functions"] = (
            len(self.express) * PRICES["express_request"] + express_gb_s * PRICES["express_gb_second"]
        )
        s3 = requests.get("s3", Counter())
        put = sum(n for op, n in s3.items() if op in S3_PUT_CLASS)
        get = sum(n for op, n in s3.items() if op not in S3_PUT_CLASS and op not in S3_FREE)
        cost["S3 requests"] = put * PRICES["s3_put_class"] + get * PRICES["s3_get_class"]
        cost["Secrets Manager"] = (
            sum(requests.get("secretsmanager", Counter()).values()) * PRICES["secrets_api"]
        )
        cost["KMS (modelled)"] = self.kms_requests() * PRICES["kms_request"]
        cost["X-Ray (modelled)"] = self.traces() * PRICES["xray_trace_recorded"]
        cost["CloudWatch Logs"] = self.log_bytes() / 1e9 * PRICES["logs_ingest_gb"]
        return cost

    def billed_ms(self, function: str) -> int:
        """A function's billed milliseconds, less what it waited for the meter's own look-ups."""
        return max(
            self.usage.invocations[function], self.usage.billed_ms[function] - self.usage.meter_ms[function]
        )

    def kms_requests(self) -> int:
        """SNS topics with server-side encryption ask KMS for a data key per publish (upper bound)."""
        sns = self.requests().get("sns", Counter())
        return sns["Publish"] + sns["PublishBatch"]

    def traces(self) -> float:
        """Traces recorded. With the functions' tracing Active: every one, one per API request, per
        Express run, per event-source invocation (upper bound). With PassThrough: only what API
        Gateway and the state machine sample, at the default rule's 5% (its reservoir, the first
        request each second, matters only at low volume and is not counted)."""
        if self.function_tracing == "Active":
            by_source = sum(
                n for name, n in self.usage.invocations.items() if name in self.event_source_functions
            )
            return self.api_requests + len(self.express) + by_source
        return (self.api_requests + len(self.express)) * DEFAULT_SAMPLED_FRACTION

    def log_bytes(self) -> float:
        return sum(self.usage.log_bytes.values()) + LAMBDA_PLATFORM_LOG_BYTES * sum(
            self.usage.invocations.values()
        )

    def total(self) -> float:
        return sum(self.costs().values())


def express_since(before: int) -> list[metering.ExpressRun]:
    return metering.express_runs()[before:]


# --- standing costs ----------------------------------------------------------------------------------


def standing(stack: LocalStack) -> dict[str, tuple[float, str]]:
    template = stack.aws.template
    resources = template.get("Resources") or {}
    by_type: Counter[str] = Counter(r.get("Type") for r in resources.values())
    alarms = [r for r in resources.values() if r.get("Type") == "AWS::CloudWatch::Alarm"]
    high_res = sum(1 for a in alarms if int((a.get("Properties") or {}).get("Period", 60)) < 60)
    secrets = by_type["AWS::SecretsManager::Secret"] + (
        1 if "RunwaySecretName" in (template.get("Parameters") or {}) else 0
    )
    sqs_sources = sum(1 for p in stack.pollers.values() if isinstance(p, SqsPoller))
    return {
        "KMS keys": (
            by_type["AWS::KMS::Key"] * PRICES["kms_key_month"],
            f"{by_type['AWS::KMS::Key']} customer managed key(s)",
        ),
        "Secrets": (
            secrets * PRICES["secret_month"],
            f"{secrets} secret(s), + $0.40 per tenant's webhook secret",
        ),
        "Alarms": (
            (len(alarms) - high_res) * PRICES["alarm_month"]
            + high_res * PRICES["alarm_month_high_resolution"],
            f"{len(alarms)} alarm(s)",
        ),
        "Dashboards": (
            by_type["AWS::CloudWatch::Dashboard"] * PRICES["dashboard_month"],
            f"{by_type['AWS::CloudWatch::Dashboard']} dashboard(s)",
        ),
        "SQS event-source polling (modelled)": (
            sqs_sources * SQS_IDLE_POLLS_PER_MONTH * PRICES["sqs_request"],
            f"{sqs_sources} SQS event source(s) x {SQS_IDLE_POLLS_PER_MONTH:,} empty long-polls",
        ),
    }


# --- printing ----------------------------------------------------------------------------------------


def print_phase(title: str, phase: Phase, per: int, unit: str) -> None:
    """Counts per `unit` (`per` of them in the phase), dollars per 1,000 units."""
    usage = phase.usage
    print(f"\n== {title} ==")
    print(f"requests per {unit} by service (operations):")
    for service, operations in sorted(phase.requests().items()):
        detail = ", ".join(f"{op} {n / per:.2f}" for op, n in sorted(operations.items()))
        print(f"  {service:<15} {sum(operations.values()) / per:7.2f}   ({detail})")
    print(f"  {'apigateway':<15} {phase.api_requests / per:7.2f}")
    print(f"Lambda invocations per {unit} by function (billed ms, memory):")
    for name, count in sorted(usage.invocations.items()):
        print(
            f"  {name:<48} {count / per:6.2f}  {phase.billed_ms(name) / per:9.0f} ms"
            f" (+{usage.meter_ms[name] / per:.0f} metering)"
            f"  {phase.memory_mb.get(name)} MB"
        )
    for table in sorted(set(usage.write_units) | set(usage.read_units)):
        print(
            f"DynamoDB {table}: WRU {usage.write_units[table] / per:.2f} (of which indexes "
            f"{usage.index_write_units[table] / per:.2f}), RRU {usage.read_units[table] / per:.2f}"
        )
    express_s = sum(run.seconds for run in phase.express)
    print(f"Express runs {len(phase.express) / per:.2f}, run seconds {express_s / per:.1f}")
    print(
        f"schedule firings {sum(usage.schedule_fires.values()) / per:.2f};"
        f" traces (modelled) {phase.traces() / per:.2f}"
    )
    print(
        f"log bytes {phase.log_bytes() / per:,.0f} (of which Lambda platform lines, modelled: "
        f"{LAMBDA_PLATFORM_LOG_BYTES * sum(usage.invocations.values()) / per:,.0f})"
    )
    print(f"dollars per 1,000 {unit}s:")
    for service, dollars in sorted(phase.costs().items(), key=lambda item: -item[1]):
        if dollars:
            print(f"  {service:<24} ${dollars / per * 1000:9.4f}")
    print(f"  {'total':<24} ${phase.total() / per * 1000:9.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--spacing-s", type=float, default=0.0, help="seconds between two submits")
    parser.add_argument("--task-s", type=float, default=60.0)
    parser.add_argument("--output-mb", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout-s", type=float, default=600)
    args = parser.parse_args()

    allow_loopback_callbacks()
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    meter = metering.start()
    meter.quiet_functions = True  # counted, not shown
    started = time.monotonic()
    stack = LocalStack(
        emulator_config=EmulatorConfig(
            profile="fast",
            seed=args.seed,
            durations={MODEL: args.task_s},
            output_padding_bytes=int(args.output_mb * 1_000_000),
        ),
    ).start()
    meter.learn_tables(stack.aws.template, stack.aws.resolve)
    print(f"stack up in {time.monotonic() - started:.1f} s", flush=True)
    try:
        from runway_bridge_dev.keys_cli import create_key  # noqa: PLC0415  (needs the stack's environment)

        created = create_key("bench-cost", "bench")
        wait_quiet(meter)

        # One empty tick of each schedule.
        ticks: dict[str, Phase] = {}
        for logical_id in stack.scheduler.schedules:
            before, express_before = meter.snapshot(), len(metering.express_runs())
            stack.scheduler.fire_now(logical_id)
            wait_quiet(meter)
            usage = meter.snapshot() - before
            ticks[logical_id] = Phase(usage, express_since(express_before), stack, 0)
            fires = usage.schedule_fires[logical_id]
            print(f"idle tick {logical_id}: {fires} firing(s) measured", flush=True)

        arrivals = WebhookArrivals()
        with webhook_receiver(created.webhook_secret or "", arrivals) as url:
            headers = {"Authorization": f"Bearer {created.api_key}"}
            with httpx.Client(base_url=stack.api_url, timeout=30, headers=headers) as api:
                before, express_before = meter.snapshot(), len(metering.express_runs())
                run_started = time.monotonic()
                submitted = []
                for index in range(args.jobs):
                    if index and args.spacing_s:
                        time.sleep(args.spacing_s)
                    answer = api.post("/v1/text_to_video", json={**BODY, "callbackUrl": url})
                    answer.raise_for_status()
                    submitted.append(answer.json()["id"])
                print(f"{args.jobs} jobs submitted", flush=True)
                deadline = time.monotonic() + args.timeout_s
                while not set(submitted) <= set(arrivals.first_by_job(SUCCEEDED)):
                    if time.monotonic() > deadline:
                        arrived = len(arrivals.first_by_job(SUCCEEDED))
                        raise SystemExit(f"timed out: {arrived} of {args.jobs} webhooks")
                    time.sleep(0.5)
                wait_quiet(meter)
                run_s = time.monotonic() - run_started
                usage = meter.snapshot() - before
                jobs = Phase(usage, express_since(express_before), stack, api_requests=args.jobs)
                statuses = Counter(api.get(f"/v1/tasks/{job}").json()["status"] for job in submitted)
        print(
            f"jobs done in {run_s:.0f} s: {dict(statuses)}, webhooks {len(arrivals.first_by_job(SUCCEEDED))}"
        )
        if statuses != {"SUCCEEDED": args.jobs}:
            raise SystemExit("not every job SUCCEEDED")
        report(stack, args, jobs, ticks, run_s)
    finally:
        stack.stop()
        metering.stop()


def report(
    stack: LocalStack, args: argparse.Namespace, jobs: Phase, ticks: dict[str, Phase], run_s: float
) -> None:
    print(
        f"\nPrices: us-east-1 list prices as of December 2026, arm64 Lambda, on-demand DynamoDB, "
        f"free tiers not applied. Job: a {args.task_s:g} s task, one {args.output_mb:g} MB output, "
        "one webhook; "
        f"{args.jobs} job(s), {args.spacing_s:g} s apart."
    )
    print_phase(f"per job ({args.jobs} jobs)", jobs, args.jobs, "job")
    total = jobs.total() / args.jobs * 1000
    idle_per_s = 0.0
    monthly: dict[str, float] = {}
    for logical_id, tick in ticks.items():
        spec = stack.scheduler.schedules[logical_id]
        period = spec.period_s()
        fires = max(1, tick.usage.schedule_fires[logical_id])
        per_tick = tick.total() / fires
        if period:
            monthly[f"schedule {logical_id} ({spec.expression})"] = per_tick * SECONDS_PER_MONTH / period
            idle_per_s += per_tick / period
        print_phase(f"one empty tick of {logical_id} ({spec.expression})", tick, fires, "tick")
    baseline = idle_per_s * run_s / args.jobs * 1000
    print(
        f"\nTOTAL per 1,000 jobs: ${total:.4f} (goal ${GOAL_PER_1000_JOBS:.2f}: "
        f"{'met' if total <= GOAL_PER_1000_JOBS else 'NOT met'})"
    )
    print(
        f"  of which the schedules' idle ticks during the {run_s:.0f} s run: ${baseline:.4f} "
        f"(counted again in idle); marginal ${total - baseline:.4f}"
    )
    storage = args.output_mb / 1000 * 1000 * PRICES["s3_gb_month"]
    print(
        f"  not included: S3 storage of the outputs ${storage:.2f} per 1,000 jobs per month kept "
        "(OutputExpirationDays), data transfer out when clients download them,"
        " SNS deliveries to your subscribers"
    )
    print("\n== idle, per month ==")
    idle = 0.0
    for name, dollars in monthly.items():
        print(f"  {name:<52} ${dollars:7.2f}")
        idle += dollars
    for name, (dollars, note) in standing(stack).items():
        print(f"  {name:<52} ${dollars:7.2f}  {note}")
        idle += dollars
    idle_metrics = sorted({name for tick in ticks.values() for _, name, _ in tick.usage.metrics})
    if idle_metrics:
        dollars = len(idle_metrics) * PRICES["custom_metric_month"]
        print(f"  {'custom metrics of the empty ticks':<52} ${dollars:7.2f}  {', '.join(idle_metrics)}")
        idle += dollars
    verdict = "met" if idle <= GOAL_IDLE_PER_MONTH else "NOT met"
    print(f"  {'total':<52} ${idle:7.2f} (goal ${GOAL_IDLE_PER_MONTH:.2f}: {verdict})")
    metrics = sorted({name for _, name, _ in jobs.usage.metrics} - set(idle_metrics))
    print(
        f"  custom metrics the jobs published besides: {len(metrics)} ({', '.join(metrics)}): "
        f"${len(metrics) * PRICES['custom_metric_month']:.2f} in a month with jobs (not in either total)"
    )


if __name__ == "__main__":
    main()
