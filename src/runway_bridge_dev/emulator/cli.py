"""`runway-bridge emulator`: run the Runway emulator in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from typing import Any

from pydantic import ValidationError

from runway_bridge_dev.emulator.config import DEFAULT_API_KEY


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "emulator",
        help="run a local Runway API emulator",
        description="Serve an emulation of Runway's API (tasks, uploads, outputs, faults) over HTTP.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=8900, help="port (0 picks a free one)")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the only Bearer key accepted")
    parser.add_argument("--profile", choices=["fast", "realistic"], default="fast")
    parser.add_argument("--seed", type=int, default=None, help="seed for repeatable runs")
    parser.add_argument("--clock-speed", type=float, default=None, help="emulated seconds per real second")
    parser.add_argument("--concurrency-per-model", type=int, default=None)
    parser.add_argument("--daily-cap", type=int, default=None)
    parser.add_argument("--failure-rate", type=float, default=None)
    parser.add_argument("--error-rate", type=float, default=None)
    parser.add_argument("--latency", type=float, default=None, dest="latency_s")
    parser.add_argument("--output-url-ttl", type=float, default=None, dest="output_url_ttl_s")
    parser.add_argument("--output-padding-bytes", type=int, default=None)
    parser.add_argument("--passthrough", action="store_true", default=None)
    parser.add_argument(
        "--config-json", default=None, help="any other EmulatorConfig fields, as a JSON object"
    )
    parser.set_defaults(func=run)


OPTION_FIELDS = (
    "api_key",
    "profile",
    "seed",
    "clock_speed",
    "concurrency_per_model",
    "daily_cap",
    "failure_rate",
    "error_rate",
    "latency_s",
    "output_url_ttl_s",
    "output_padding_bytes",
    "passthrough",
)


def run(args: argparse.Namespace) -> int:
    # Imported here so `runway-bridge --help` stays fast.
    from runway_bridge_dev.emulator import EmulatorConfig, RunwayEmulator  # noqa: PLC0415

    fields: dict[str, Any] = json.loads(args.config_json) if args.config_json else {}
    fields.update({name: getattr(args, name) for name in OPTION_FIELDS if getattr(args, name) is not None})
    try:
        config = EmulatorConfig.model_validate(fields)
    except ValidationError as exc:
        print(f"invalid emulator settings:\n{exc}")
        return 2
    stop_requested = threading.Event()
    # SIGTERM stops as cleanly as Ctrl-C (e.g. when a test harness ends the process).
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    # Ctrl-C too, explicitly: a process started from a background job inherits SIGINT as ignored,
    # and Python then never raises KeyboardInterrupt.
    signal.signal(signal.SIGINT, lambda *_: stop_requested.set())
    with RunwayEmulator(config, host=args.host, port=args.port) as emulator:
        print(f"Runway emulator listening on {emulator.base_url}", flush=True)
        # The SDK appends /v1 itself: the URL to give it is the bare base URL.
        base, key = emulator.base_url, emulator.api_key
        print(f"  runwayml SDK: RunwayML(base_url={base!r}, api_key={key!r})", flush=True)
        print(f"  raw HTTP: {base}/v1/...   Authorization: Bearer {key}", flush=True)
        print(f"  profile={config.profile} seed={config.seed}   Ctrl-C stops", flush=True)
        try:
            while not stop_requested.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    print("Runway emulator stopped.", flush=True)
    return 0
