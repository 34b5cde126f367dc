"""The one settings model of the deployed code. Read lazily (never at import time), cached per
process; tests call `get_settings.cache_clear()` after changing the environment."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _bucket_list(value: Any) -> Any:
    """A CloudFormation CommaDelimitedList arrives joined by commas ("" when empty)."""
    if isinstance(value, str):
        return frozenset(name.strip() for name in value.split(",") if name.strip())
    return value


# Bucket names from a comma-separated environment variable (not JSON).
BucketNames = Annotated[frozenset[str], NoDecode, BeforeValidator(_bucket_list)]


class BridgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BRIDGE_", extra="ignore")

    # Runway
    runway_base_url: str = "https://api.dev.runwayml.com"
    # Name of the Secrets Manager secret (or SSM parameter) holding the Runway API key.
    runway_secret_name: str = "runway-bridge/runway-api-key"
    # Only for local runs: a literal key that bypasses Secrets Manager.
    runway_api_key: str | None = Field(default=None, repr=False)
    runway_connect_timeout_s: float = 5.0
    runway_read_timeout_s: float = 20.0
    runway_max_attempts: int = 4
    # Forward models/fields the spec does not know instead of refusing them.
    passthrough: bool = False

    # Powertools Parameters cache for secrets
    secret_cache_seconds: int = 300
    # Per-tenant webhook signing secrets live at "<prefix>/<tenantId>/webhook-secret".
    tenant_secret_prefix: str = "runway-bridge/tenants"

    # Resources (names come from template.yaml's environment)
    jobs_table_name: str = "runway-bridge-jobs"
    api_keys_table_name: str = "runway-bridge-api-keys"
    bucket_name: str = "runway-bridge-artifacts"
    event_bus_name: str = "runway-bridge"

    # Tenants (docs/tenants.md). The operator's price table, model -> credits per output second
    # (JSON in BRIDGE_CREDIT_PRICES); only what it lists counts towards a daily credits limit.
    credit_prices: dict[str, float] = Field(default_factory=dict)
    # How many tasks the Runway account runs at once (its tier's concurrency); 0: unknown, and the
    # bridge learns it is full only when a task comes back THROTTLED or a create gets 429. Known,
    # no create is sent past it: further jobs wait in the bridge's queue and are admitted fairly.
    runway_max_in_flight: int = Field(default=0, ge=0)

    # Submission
    # Most seconds a submit may spend before it answers (API Gateway closes a request at 29 s and
    # also counts the cold start); the handler's budget is the invocation's remaining time less
    # `api_answer_reserve_s`, capped at this. Every write before and after the create counts.
    api_submit_budget_s: float = 24.0
    # Seconds kept back from the invocation's remaining time for building and returning the answer.
    api_answer_reserve_s: float = Field(default=3.0, ge=0)
    # A submit with less than this left before its create does not send it: the job stays QUEUED
    # (recorded, answered 2xx) and the poller sends it.
    submit_min_send_s: float = Field(default=4.0, ge=0)
    # Seconds a submit waits, after Runway accepted the create, for the task-id write (and the
    # hand-off record) before it answers anyway; the poller finishes what is left.
    submit_record_budget_s: float = Field(default=2.0, gt=0)
    # A SUBMITTING lease lasts what is left of the submit's budget plus this margin (the answer
    # reserve and clock skew): the create's POST ends within the budget, so once the lease has
    # expired nobody can still be mid-POST.
    submit_lease_margin_s: float = 10.0
    # Request bodies larger than this (JSON bytes) go to S3 instead of the job item.
    inline_body_max_bytes: int = 4096
    first_poll_delay_s: float = 5.0
    # When Runway answers 429 without Retry-After, the poller tries the queued job this much later.
    queued_retry_delay_s: float = 60.0
    # A job not finished this long after Runway accepted it times out (issue 5 enforces it).
    job_timeout_s: float = 2 * 3600.0
    # runway:// inputs last 24 h: a deferred submit older than this fails with BRIDGE.INPUT_EXPIRED.
    input_max_age_s: float = 23 * 3600.0
    due_shards: int = 4
    # Seconds a DELETE of an unfinished task spends on Runway's cancel before answering; an
    # unconfirmed cancel is recorded and the poller keeps sending it.
    delete_budget_s: float = 5.0

    # s3:// inputs (docs/s3-inputs.md). The buckets an input URI may name (template parameter
    # InputBuckets; comma-separated in BRIDGE_INPUT_BUCKETS); empty: none may.
    input_buckets: BucketNames = frozenset()
    # Life of the presigned GET that replaces an s3:// input in the create sent to Runway (it also
    # ends with the signing role's session, whichever comes first).
    input_url_ttl_s: int = Field(default=12 * 3600, gt=0, le=7 * 86400)
    # How an s3:// input reaches Runway: "presign" (a presigned GET in the create), or "upload"
    # (its bytes go through Runway's upload flow at each send, as a runway:// URI that lasts 24 h
    # whatever the role's session; costs the send's time and the object's size in memory).
    input_delivery: Literal["presign", "upload"] = "presign"

    # Poller (Step Functions loop; see statemachine/poller.asl.json and logic/poller/service.py)
    # A run's next round starts when its next job falls due (whole seconds), and never waits
    # longer than `poller_idle_wait_max_s` (jobs recorded meanwhile may fall due sooner).
    # `poller_wait_s` is how soon a due job that could not be admitted is looked at again.
    poller_wait_s: int = Field(default=5, ge=1)
    poller_idle_wait_max_s: int = Field(default=10, ge=1)
    # A round also takes jobs due within this many seconds, and waits whole seconds until the
    # next job is that close: each job is looked at within this much of when it fell due.
    poller_early_s: float = Field(default=0.5, ge=0, le=1.0)
    # One round checks its due jobs this many at a time (in one invocation), and starts no check
    # after this many seconds (the jobs left are due at once: the next round starts without a wait).
    poller_check_concurrency: int = Field(default=10, ge=1)
    poller_round_max_s: float = Field(default=20.0, gt=0)
    # A run stops starting rounds after this long (Express workflows end at 5 min); the next tick
    # or the next submit starts a fresh one.
    poller_run_max_s: float = Field(default=240.0, gt=0)
    # A run whose time is up starts the next one at once when a job is due within this many seconds
    # (the scheduled tick comes every 60 s), so due jobs never wait for the tick.
    poller_handover_window_s: float = Field(default=60.0, ge=0)
    # Due jobs one round lists (and checks).
    poller_max_jobs_per_round: int = Field(default=200, ge=1)
    # QUEUED jobs sent to Runway per round (Runway's concurrency and daily caps are finite), taken
    # in turns across tenants; and how many of each tenant's queue one round reads.
    poller_queued_per_round: int = Field(default=10, ge=0)
    poller_queue_read_per_tenant: int = Field(default=10, ge=1)
    # A task Runway holds THROTTLED means its capacity is full: no new create is sent until this
    # long after that task's next look (the look refreshes it while the task stays throttled).
    poller_throttled_hold_s: float = Field(default=2.0, ge=0)
    # While queued jobs wait for a place at Runway, a running task is looked at again within this
    # long (its place goes to the next job as soon as it is seen done).
    poller_busy_poll_s: float = Field(default=3.0, gt=0)
    # How long a run's "I am running" marker lasts without a refresh (a few slow rounds).
    poller_run_hold_s: float = Field(default=90.0, gt=0)
    # Seconds for one GET (or the DELETE of a timed-out task) from the check function.
    poller_runway_budget_s: float = Field(default=10.0, gt=0)
    # Seconds for a deferred (QUEUED) create from the check function.
    poller_submit_budget_s: float = Field(default=20.0, gt=0)
    # When Runway could not be read, look again this much later.
    poller_retry_delay_s: float = Field(default=10.0, gt=0)
    # A COPYING job whose copy has not finished this long after hand-off is handed to the copy
    # queue again (the hand-off message may have been lost; copies are idempotent). Longer than one
    # copier invocation may run (CopyFunctionTimeout, 900 s), so a live copy is not doubled.
    copy_watchdog_s: float = Field(default=3600.0, gt=0)
    # Set on the submit functions only: the poller state machine they start when no run is active.
    poller_state_machine_arn: str | None = None

    # Task views
    output_url_ttl_s: int = 3600

    # Output copies (Runway output URL -> S3)
    # Multipart part size: S3's minimum is 5 MiB; memory held by a copy is about three parts.
    copy_part_bytes: int = Field(default=8 * 1024 * 1024, ge=5 * 1024 * 1024)
    copy_max_fetch_attempts: int = Field(default=3, ge=1)
    copy_max_url_refreshes: int = Field(default=2, ge=0)
    copy_connect_timeout_s: float = 5.0
    # Longest silence between two chunks of an output body (not the whole download).
    copy_read_timeout_s: float = 30.0
    # Unset: SSE-S3 (AES256); set: SSE-KMS with this key.
    output_kms_key_id: str | None = None
    # Tenants' own output buckets (docs/tenants.md, "Output destination"): the only buckets a
    # tenant's destination may name (template parameter OutputBuckets; empty: none). Their objects
    # get the bucket's default encryption, never `output_kms_key_id`.
    output_buckets: BucketNames = frozenset()
    # Only for the key setup (`runway-bridge keys ... --output`): the copier function (name or ARN;
    # stack output CopyOutputsFunctionName) asked to check it can write to a tenant's destination.
    copy_function_name: str | None = None
    # Output URLs (and their redirects) pass the SSRF guard: https and public addresses only.
    # True only for a local Runway (the emulator on loopback http; the local runtime sets it).
    allow_local_outputs: bool = False
    # Redirects followed from one output URL (each hop is checked by the guard).
    copy_max_redirects: int = Field(default=5, ge=0)
    # Deliveries of one copy message before SQS dead-letters it (the queue's maxReceiveCount): the
    # last delivery fails the job on a transient error instead of leaving it in COPYING.
    copy_max_deliveries: int = Field(default=5, ge=1)
    # Seconds the copier may spend on one Runway GET of the task (retries included).
    copy_runway_budget_s: float = Field(default=30.0, gt=0)
    # A copy that failed transiently comes back after base * 2^(delivery - 1) seconds, capped (plus up
    # to 10 %: logic/retry.py), instead of after the queue's long visibility timeout.
    copy_retry_base_s: float = Field(default=30.0, ge=0)
    copy_retry_max_s: float = Field(default=900.0, ge=0)

    # Callback URLs (SSRF guard): https only and public addresses only, unless relaxed for local dev.
    allow_http_callbacks: bool = False
    allow_private_callbacks: bool = False
    # Ports a callback URL may use (its explicit port, or 443 for https); any port when
    # `allow_any_callback_port` (local development: receivers listen on random loopback ports).
    callback_ports: list[int] = Field(default_factory=lambda: [443, 8443], min_length=1)
    allow_any_callback_port: bool = False
    # Static host -> address answers consulted before DNS (like curl --resolve): local development
    # and tests point a callback hostname at a loopback receiver. The guard still checks the address.
    callback_host_overrides: dict[str, str] = Field(default_factory=dict)
    # CA bundle (PEM path) webhook TLS is verified against; unset: the system's trust store.
    webhook_ca_bundle: str | None = None

    # Notifications (docs/events.md, "Channels"). Unset resource names: that channel is off.
    notifications_topic_arn: str | None = None
    webhook_queue_url: str | None = None
    webhook_dead_letter_queue_url: str | None = None
    # Public base URL of the bridge API (e.g. https://abc.execute-api.../Prod): stable output links
    # in events point at "<base>/v1/outputs/...". Unset: events carry no stable link.
    public_base_url: str | None = None
    # Console (/console): origins the page may play video from, space-separated CSP sources. A
    # stable link redirects to a presigned object-store URL; the local stack sets its own origin.
    console_media_sources: str = "https://*.amazonaws.com"
    # Secrets Manager secret holding the HMAC key that signs stable output links.
    link_secret_name: str = "runway-bridge/link-signing-key"
    # How long a stable output link stays valid (it redirects to a fresh presign each time).
    link_ttl_s: int = Field(default=30 * 86400, gt=0)
    # Webhook delivery: one attempt's whole timeout, and the most response bytes read.
    webhook_timeout_s: float = Field(default=15.0, gt=0)
    webhook_max_response_bytes: int = Field(default=64 * 1024, ge=0)
    # How much of a receiver's answer each delivery attempt keeps (`webhookDeliveries[].answerExcerpt`).
    webhook_answer_excerpt_bytes: int = Field(default=256, ge=0, le=4096)
    # Seconds before attempt 1, 2, ... (Svix-like: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h);
    # its length is the number of attempts. Multiplied by `webhook_retry_scale` (tests compress it).
    webhook_retry_schedule_s: list[float] = Field(
        default_factory=lambda: [0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0], min_length=1
    )
    webhook_retry_scale: float = Field(default=1.0, gt=0)
    # After a webhook secret rotation, the previous secret also signs for this long.
    webhook_rotation_overlap_s: float = Field(default=24 * 3600.0, ge=0)
    # A deliverer re-reads which versions of a tenant's webhook secret sign at most this long after
    # its last look, so a rotation made by another process signs within this bound (the process that
    # rotates, and `GET /v1/webhooks/secret`, see it at once). Each look is one ListSecretVersionIds
    # per tenant; versions' values never change and stay cached.
    webhook_secret_recheck_s: float = Field(default=10.0, ge=0)


@lru_cache(maxsize=1)
def get_settings() -> BridgeSettings:
    return BridgeSettings()
