"""Fleet benchmark (run by hand): 1,000 jobs from 5 tenants through the whole local bridge, with
Runway's concurrency limit, a 429 storm, dropped creates, failures and cancels.

    .venv/bin/python bench/fleet.py                     # flood run, then the run without the flood
    .venv/bin/python bench/fleet.py --jobs 0.2 --seed 3 # 200 jobs
    .venv/bin/python bench/fleet.py --no-flood --json   # only the small tenants, figures as JSON

The stack runs in this process as `make dev` runs it (template defaults, functions at WARNING), over
moto and the Runway emulator. The scenario (src/runway_bridge_dev/fleet.py, shared with
tests/e2e/fleet/test_fleet.py): one tenant floods 700 jobs at once 10 s in; four submit 75 each at a
steady pace over the first 4 minutes; Runway (emulator, fast profile, clock speed 1) runs at most 20
tasks at a time, each lasting 5-10 s; every create answers 429 (Retry-After 2 s) from 60 s to 75 s;
1% of creates are dropped after Runway made the task; 2% of tasks fail; 1 job per small tenant and
3 of the flood are cancelled right after their submit. Every job has a callback to a local receiver
that verifies the Standard Webhooks signature.

The second run, on the same stack, repeats the small tenants' part without the flood: their p95 from
submit to verified webhook there is the reference for the flood run (goal: within 1.5x).
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import sys
import time
import warnings

from runway_bridge_dev.fleet import FleetRun, RunReport, as_json, fleet_scenario, fleet_stack, format_report

FAIRNESS_GOAL = 1.5


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=float, default=1.0, help="scale factor of the 1,000 jobs")
    parser.add_argument("--tenants", type=int, default=5, help="tenants, one of them flooding")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=20, help="Runway tasks at a time (per model)")
    parser.add_argument(
        "--task-seconds", type=float, nargs=2, default=(5.0, 10.0), metavar=("MIN", "MAX"), help="task life"
    )
    parser.add_argument("--no-flood", action="store_true", help="only the run without the flood")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    warnings.filterwarnings("ignore", message="No application metrics to publish")
    scenario = dataclasses.replace(
        fleet_scenario(args.jobs, args.tenants, args.seed),
        concurrency_per_model=args.concurrency,
        task_min_s=args.task_seconds[0],
        task_max_s=args.task_seconds[1],
    )
    runs = [] if args.no_flood else [("flood", scenario)]
    runs.append(("no-flood", scenario.without_flood()))
    started = time.monotonic()

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    reports: list[RunReport] = []
    with fleet_stack(scenario) as stack:
        progress(f"stack up in {time.monotonic() - started:.1f} s")
        for label, run in runs:
            reports.append(FleetRun(stack, run, label=label, progress=progress).run())
    wall_s = time.monotonic() - started
    # Linux reports kilobytes; the stack runs in this process.
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    by_label = {report.label: report for report in reports}
    ratio = None
    flood_p95 = by_label["flood"].small_tenants_p95_s if "flood" in by_label else None
    alone_p95 = by_label["no-flood"].small_tenants_p95_s
    if flood_p95 is not None and alone_p95:
        ratio = round(flood_p95 / alone_p95, 2)
    if args.json:
        print(
            as_json(
                reports,
                {"smallTenantsP95Ratio": ratio, "peakRssMb": round(peak_rss_mb), "wallS": round(wall_s)},
            )
        )
        return 0
    for report in reports:
        print(format_report(report))
    if ratio is not None:
        verdict = "within" if ratio <= FAIRNESS_GOAL else "NOT within"
        print(
            f"small tenants' p95 submit->webhook: {flood_p95:.1f} s with the flood, "
            f"{alone_p95:.1f} s without = {ratio}x ({verdict} the {FAIRNESS_GOAL}x goal)"
        )
    print(f"peak RSS {peak_rss_mb:.0f} MB, wall {wall_s:.0f} s (stack start included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
