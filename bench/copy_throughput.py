"""Output copy benchmark (run by hand): MB/s and the copier's own peak RSS as the output grows.

    .venv/bin/python bench/copy_throughput.py                 # 1 MiB, 64 MiB, 1 GiB
    .venv/bin/python bench/copy_throughput.py --sizes-mib 1 64 --part-mib 8

Three processes, so no one's memory or GIL is charged to another:
- moto S3 (`python -m moto.server`): it assembles multipart uploads in memory, so it grows with the
  output; that is moto's cost, not the copier's;
- this process: the Runway emulator serving an MP4 padded to the size wanted (streamed);
- a fresh child per size running `copy_task_outputs`: it reports its RSS after imports (baseline)
  and its peak RSS (`getrusage(RUSAGE_SELF).ru_maxrss`) once the copy is done.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import httpx

from runway_bridge.adapters.copy.outputs import HttpOutputSource, S3MultipartStore
from runway_bridge.adapters.url_guard import UrlGuard
from runway_bridge.logic.copy.streaming import CopyPolicy, copy_task_outputs
from runway_bridge.settings import BridgeSettings
from runway_bridge_dev.emulator import EmulatorConfig, RunwayEmulator

MIB = 1024 * 1024
RUNWAY_VERSION = "2024-11-06"
BUCKET = "copy-bench"
TEXT_TO_VIDEO = {"model": "gen4.5", "promptText": "a lighthouse at dusk", "ratio": "1280:720", "duration": 5}


def _rss_now_kib() -> int:
    # VmRSS: what the process holds right now (ru_maxrss only knows the peak so far).
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def child(args: argparse.Namespace) -> None:
    """One copy, in this fresh process; prints a JSON line with its figures."""
    s3 = boto3.client("s3", endpoint_url=args.s3_endpoint, region_name="us-east-1")
    store = S3MultipartStore(s3, BUCKET)
    # The emulator serves outputs on loopback http: the local relaxation of the address guard.
    source = HttpOutputSource(check=UrlGuard.for_outputs(BridgeSettings(allow_local_outputs=True)).check)
    s3.list_buckets()  # open the connection pool before the baseline
    baseline_kib = _rss_now_kib()
    started = time.perf_counter()
    [output] = copy_task_outputs(
        job_id=args.job_id,
        task_id=args.task_id,
        output_urls=[args.url],
        refresh_urls=lambda: [args.url],
        source=source,
        store=store,
        policy=CopyPolicy(part_bytes=args.part_mib * MIB),
    )
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {"size": output.size, "seconds": seconds, "baseline_kib": baseline_kib, "peak_kib": peak_kib}
        )
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(endpoint, timeout=1)
            return process, endpoint
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("moto server did not start")


def _succeeded_output(runway: httpx.Client) -> tuple[str, str]:
    task_id = runway.post("/v1/text_to_video", json=TEXT_TO_VIDEO).json()["id"]
    while True:
        task: dict[str, Any] = runway.get(f"/v1/tasks/{task_id}").json()
        if task["status"] == "SUCCEEDED":
            # Warm the emulator's media (its MP4 is encoded once, on first use) outside the timing.
            httpx.head(task["output"][0], timeout=30).raise_for_status()
            return task_id, task["output"][0]
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes-mib", type=int, nargs="+", default=[1, 64, 1024])
    parser.add_argument("--part-mib", type=int, default=8)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--s3-endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--task-id", help=argparse.SUPPRESS)
    parser.add_argument("--job-id", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    moto, endpoint = _start_moto()
    rows: list[dict[str, Any]] = []
    try:
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
        with (
            RunwayEmulator(EmulatorConfig(seed=3, clock_speed=50.0)) as emulator,
            httpx.Client(
                base_url=emulator.base_url,
                headers={"Authorization": f"Bearer {emulator.api_key}", "X-Runway-Version": RUNWAY_VERSION},
                timeout=10,
            ) as runway,
        ):
            for size_mib in args.sizes_mib:
                # The emulator's MP4 is a few KiB; the padding box makes up the rest.
                emulator.update(output_padding_bytes=size_mib * MIB)
                task_id, url = _succeeded_output(runway)
                command = [sys.executable, __file__, "--child", "--s3-endpoint", endpoint, "--url", url]
                command += [
                    "--task-id",
                    task_id,
                    "--job-id",
                    f"bench-{size_mib}",
                    "--part-mib",
                    str(args.part_mib),
                ]
                answer = subprocess.run(
                    command, check=True, capture_output=True, text=True, env=os.environ.copy()
                )
                figures = json.loads(answer.stdout.strip().splitlines()[-1])
                rows.append({"size_mib": size_mib, **figures})
                print(f"  copied {size_mib} MiB in {figures['seconds']:.2f} s", file=sys.stderr)
    finally:
        moto.terminate()
        moto.wait(timeout=30)

    print(f"\nOutput copy, emulator -> moto S3 over loopback, {args.part_mib} MiB parts, separate processes")
    header = ("output", "bytes", "seconds", "MiB/s", "RSS base", "RSS peak", "peak-base")
    print("{:>10} {:>13} {:>8} {:>8} {:>10} {:>10} {:>10}".format(*header))
    for row in rows:
        mib_per_s = row["size"] / MIB / row["seconds"]
        base, peak = row["baseline_kib"] / 1024, row["peak_kib"] / 1024
        print(
            f"{row['size_mib']:>6} MiB {row['size']:>13,} {row['seconds']:>8.2f} {mib_per_s:>8.1f}"
            f" {base:>7.1f} MiB {peak:>6.1f} MiB {peak - base:>6.1f} MiB"
        )


if __name__ == "__main__":
    main()
