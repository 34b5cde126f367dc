"""`runway-bridge dev`: the whole bridge on this machine until Ctrl-C (what `make dev` runs)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

# The bridge-specific variable; `RUNWAYML_API_SECRET` is the SDK's own and may hold a *bridge* key.
REAL_RUNWAY_KEY_VARIABLE = "RUNWAY_BRIDGE_RUNWAY_API_KEY"
DEFAULT_API_PORT = 3000


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "dev",
        help="run the whole bridge locally (moto + Runway emulator)",
        description=(
            "Bring up the SAM template on this machine: AWS services in moto, functions in-process, "
            "a local API Gateway, SQS and stream pollers, the scheduler and the Runway emulator. "
            "Ctrl-C stops."
        ),
    )
    parser.add_argument("--template", type=Path, default=None, help="SAM template (default: the repo's)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_API_PORT,
        help=f"API port on 127.0.0.1 (default {DEFAULT_API_PORT}; 0: any)",
    )
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="template parameter override (repeatable)",
    )
    parser.add_argument(
        "--real-runway",
        action="store_true",
        help=f"call the real Runway API with the key in ${REAL_RUNWAY_KEY_VARIABLE} instead of the emulator",
    )
    parser.add_argument("--emulator-seed", type=int, default=None, help="seed of the Runway emulator")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep DynamoDB items and S3 objects here across restarts (see README: what persists)",
    )
    parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="print everything: the functions' JSON logs and metrics, every local component's log "
        "(default: one line per job state change, and warnings)",
    )
    parser.set_defaults(func=run)


def _parameters(pairs: list[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise SystemExit(f"--parameter expects NAME=VALUE, got {pair!r}")
        parameters[name] = value
    return parameters


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    console_stream = None
    if not args.verbose:
        from runway_bridge_dev.local.console import quiet_console  # noqa: PLC0415

        console_stream = quiet_console()  # before the functions' loggers are made: they keep stdout
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Imported here so `runway-bridge --help` stays fast.
    from runway_bridge_dev.local.stack import DEFAULT_TEMPLATE, LocalStack, RealRunway  # noqa: PLC0415

    real_runway: RealRunway | None = None
    if args.real_runway:
        key = os.environ.get(REAL_RUNWAY_KEY_VARIABLE)
        if not key:
            print(
                f"--real-runway needs the Runway API key in ${REAL_RUNWAY_KEY_VARIABLE} "
                "(RUNWAYML_API_SECRET is deliberately not read: it is the SDK's variable).",
                file=sys.stderr,
            )
            return 2
        real_runway = RealRunway(api_key=key)

    emulator_config = None
    if args.emulator_seed is not None:
        from runway_bridge_dev.emulator import EmulatorConfig  # noqa: PLC0415

        emulator_config = EmulatorConfig(seed=args.emulator_seed)

    # Local receivers listen on http://127.0.0.1:<any port>: the SSRF guard refuses all three by default.
    os.environ.setdefault("BRIDGE_ALLOW_PRIVATE_CALLBACKS", "true")
    os.environ.setdefault("BRIDGE_ALLOW_HTTP_CALLBACKS", "true")
    os.environ.setdefault("BRIDGE_ALLOW_ANY_CALLBACK_PORT", "true")

    stop_requested = threading.Event()
    # SIGTERM stops as cleanly as Ctrl-C (e.g. when a test or a supervisor ends the process).
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    # Ctrl-C too, explicitly: a process started from a background job inherits SIGINT as ignored,
    # and Python then never raises KeyboardInterrupt.
    signal.signal(signal.SIGINT, lambda *_: stop_requested.set())
    stack = LocalStack(
        args.template or DEFAULT_TEMPLATE,
        parameters=_parameters(args.parameter),
        emulator_config=emulator_config,
        real_runway=real_runway,
        api_port=args.port,
        data_dir=args.data_dir,
    )
    try:
        stack.start()
    except OSError as exc:
        print(
            f"could not start the local stack: {exc} (is port {args.port} in use? any free port: "
            '`make dev ARGS="--port 0"` or `runway-bridge dev --port 0`)',
            file=sys.stderr,
        )
        return 1
    try:
        _print_banner(stack, time.monotonic() - started)
        if console_stream is not None:
            _watch_jobs(stack, console_stream)
        try:
            while not stop_requested.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        print("\nstopping...", flush=True)
    finally:
        from runway_bridge_dev.profile import remove_dev_profile  # noqa: PLC0415

        remove_dev_profile()
        stack.stop()
    print("local stack stopped.", flush=True)
    return 0


DEV_TENANT = "dev"
KEY_TABLE_VARIABLE = "BRIDGE_API_KEYS_TABLE_NAME"


def _dev_key_lines() -> tuple[list[str], Any]:
    """Issue a fresh bridge key for the `dev` tenant, the way `runway-bridge keys create` does.
    Returns the banner lines and the created key (None when there is none)."""
    if KEY_TABLE_VARIABLE not in os.environ:
        return ["  bridge API key: none (this template has no API keys table)"], None
    from runway_bridge.settings import get_settings  # noqa: PLC0415
    from runway_bridge_dev.keys_cli import create_key  # noqa: PLC0415

    get_settings.cache_clear()  # the stack has just set the functions' environment
    try:
        created = create_key(DEV_TENANT, "runway-bridge dev")
    except Exception as exc:  # noqa: BLE001  (the stack stays useful without a key: say why, go on)
        return [f"  bridge API key: could not be created: {type(exc).__name__}: {exc}"], None
    lines = [f"  bridge API key: {created.api_key}  (tenant {created.tenant_id}; a new key every start)"]
    if created.webhook_secret:
        lines.append(f"  webhook secret: {created.webhook_secret}  (tenant {created.tenant_id})")
    else:
        lines.append(f"  webhook secret: unchanged from the previous run (tenant {created.tenant_id})")
    return lines, created


def _watch_jobs(stack: Any, console: Any) -> None:
    """One console line per job state change: a stream poller of the jobs table's stream whose
    "function" prints (stopped with the stack's other pollers)."""
    from runway_bridge_dev.local.console import JobConsole  # noqa: PLC0415
    from runway_bridge_dev.local.stream_poller import StreamEventSource, StreamPoller  # noqa: PLC0415

    arns = sorted({p.source.stream_arn for p in stack.pollers.values() if isinstance(p, StreamPoller)})
    jobs_arns = [arn for arn in arns if os.environ.get("BRIDGE_JOBS_TABLE_NAME", "?") in arn] or arns
    if not jobs_arns:
        return
    source = StreamEventSource(
        logical_id="ConsoleJobStateChanges", function="console", stream_arn=jobs_arns[0]
    )
    poller = StreamPoller(
        source,
        streams=stack.aws.boto3_client("dynamodbstreams"),
        invoker=JobConsole(console),
        region=stack.aws.region,
    )
    poller.start()
    stack.pollers[source.logical_id] = poller


def _webhook_secret(stack: Any, created: Any) -> str | None:
    """The dev tenant's signing secret: new tenants get it at key creation; otherwise (a data dir
    kept it) ask the bridge, as `webhooks listen` does."""
    if created.webhook_secret:
        return str(created.webhook_secret)
    import httpx  # noqa: PLC0415

    try:
        answer = httpx.get(
            f"{stack.api_url}/v1/webhooks/secret",
            headers={"Authorization": f"Bearer {created.api_key}"},
            timeout=10.0,
            trust_env=False,
        )
        return str(answer.json()["secret"]) if answer.status_code == 200 else None
    except (httpx.HTTPError, ValueError, KeyError):
        return None


def _write_profile(stack: Any, created: Any) -> str | None:
    """Let `runway-bridge generate/tasks/webhooks/keys` (and scripts) find this stack without flags."""
    from runway_bridge_dev.profile import DevProfile, write_dev_profile  # noqa: PLC0415

    emulator = stack.emulator
    try:
        path = write_dev_profile(
            DevProfile(
                api_url=stack.api_url,
                api_key=created.api_key,
                tenant_id=created.tenant_id,
                aws_endpoint_url=stack.aws.endpoint_url,
                region=stack.aws.region,
                api_keys_table=os.environ[KEY_TABLE_VARIABLE],
                pid=os.getpid(),
                webhook_secret=_webhook_secret(stack, created),
                runway_url=stack.runway_base_url,
                emulator_url=emulator.base_url if emulator is not None else None,
                emulator_api_key=emulator.api_key if emulator is not None else None,
                jobs_table=os.environ.get("BRIDGE_JOBS_TABLE_NAME"),
                data_dir=str(stack.data_dir) if stack.data_dir is not None else None,
                copy_function=stack.aws.outputs.get("CopyOutputsFunctionName"),
            )
        )
    except OSError as exc:
        return f"  (could not write the CLI profile: {exc}; pass --url/--key to the CLI)"
    return f"  CLI profile: {path} (the commands below read it while this runs)"


def _next_steps() -> list[str]:
    cli = Path(sys.executable).with_name("runway-bridge")
    return [
        "",
        "Next, in a second terminal:",
        f"  {cli} webhooks listen",
        "and in a third:",
        f'  {cli} generate text_to_video --prompt "a red fox in snow" --wait',
        "The listener prints the verified task.succeeded webhook; generate saves the MP4 here.",
        "The official SDK: runwayml.RunwayML(base_url=<API URL>, api_key=<bridge API key>).",
    ]


def _print_banner(stack: Any, startup_s: float) -> None:
    lines = [f"runway-bridge local stack is up ({startup_s:.1f} s)"]
    if stack.api_servers:
        lines.append(f"  API URL: {stack.api_url}")
        lines.append(f"  web console: {stack.api_url}/console  (sign in with the bridge API key)")
    if len(stack.api_servers) > 1:
        lines.extend(f"  API URL of {name}: {url}" for name, url in stack.api_urls.items())
    key_lines, created = _dev_key_lines()
    lines.extend(key_lines)
    if created is not None and stack.api_servers:
        profile_line = _write_profile(stack, created)
        if profile_line:
            lines.append(profile_line)
    if stack.emulator is not None:
        lines.append(f"  Runway: emulator at {stack.emulator.base_url} (key {stack.emulator.api_key})")
    else:
        lines.append(f"  Runway: REAL API at {stack.runway_base_url} (credits are spent!)")
    lines.append(f"  AWS (moto): {stack.aws.endpoint_url}  region {stack.aws.region}")
    if stack.pollers:
        lines.append(f"  event source pollers (SQS, DynamoDB stream): {', '.join(stack.pollers)}")
    if stack.scheduler.schedules:
        lines.append(f"  schedules: {', '.join(stack.scheduler.schedules)}")
    if stack.data_dir is not None:
        lines.append(f"  data dir: {stack.data_dir} (DynamoDB items and S3 objects persist)")
    lines.append("  Ctrl-C stops.")
    if created is not None and stack.api_servers:
        lines.extend(_next_steps())
    print("\n".join(lines), flush=True)
