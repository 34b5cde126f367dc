"""A quiet `runway-bridge dev`: a line per job state change; function logs and metrics stay off the
console unless `--verbose` (then this module is not used at all)."""

from __future__ import annotations

import io
import json

from runway_bridge_dev.local.console import JobConsole, QuietOutput


def job_image(status: str) -> dict[str, dict[str, str]]:
    return {
        "pk": {"S": "JOB#j-1"},
        "sk": {"S": "JOB"},
        "status": {"S": status},
        "operation": {"S": "text_to_video"},
        "tenantId": {"S": "dev"},
    }


def test_a_line_per_job_state_change_and_none_for_other_writes() -> None:
    out = io.StringIO()
    records = [
        {"eventName": "INSERT", "dynamodb": {"NewImage": job_image("QUEUED")}},
        {
            "eventName": "MODIFY",
            "dynamodb": {"OldImage": job_image("PENDING"), "NewImage": job_image("RUNNING")},
        },
        {
            "eventName": "MODIFY",
            "dynamodb": {"OldImage": job_image("RUNNING"), "NewImage": job_image("RUNNING")},
        },
        {"eventName": "INSERT", "dynamodb": {"NewImage": {"pk": {"S": "JOB#j-1"}, "sk": {"S": "EVENT#1"}}}},
        {"eventName": "REMOVE", "dynamodb": {"OldImage": job_image("SUCCEEDED")}},
    ]
    JobConsole(out).invoke("console", {"Records": records})
    lines = out.getvalue().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "job j-1 QUEUED (text_to_video, dev)",
        "job j-1 PENDING -> RUNNING (text_to_video, dev)",
        "job j-1 SUCCEEDED -> DELETED (text_to_video, dev)",
    ]


def test_function_logs_and_metric_blobs_are_dropped_and_warnings_shortened() -> None:
    console = io.StringIO()
    quiet = QuietOutput(console)
    info = {"level": "INFO", "message": "job checked", "function_name": "CheckJob"}
    emf = {"_aws": {"CloudWatchMetrics": []}, "CopySucceeded": [1.0]}
    warning = {"level": "WARNING", "message": "webhook refused", "function_name": "Deliver"}
    quiet.write(json.dumps(info) + "\n" + json.dumps(emf) + "\n")
    quiet.write("runway-bridge local stack is up\n" + json.dumps(warning)[:10])
    quiet.write(json.dumps(warning)[10:] + "\n")
    lines = console.getvalue().splitlines()
    assert lines[0] == "runway-bridge local stack is up"
    assert lines[1].endswith("WARNING webhook refused (Deliver)")
    assert len(lines) == 2


def test_make_dev_passes_args_through() -> None:
    import subprocess  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    root = Path(__file__).resolve().parents[3]
    dry = subprocess.run(
        ["make", "-n", "-o", ".venv/.synced", "dev", "ARGS=--port 0 --verbose"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "runway-bridge dev --port 0 --verbose" in dry.stdout
