"""`runway-bridge dev` as a user runs it (a real process), and `--data-dir` across restarts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from runway_bridge_dev.local.stack import LocalStack

REPO = Path(__file__).resolve().parents[3]
CLI = [sys.executable, "-m", "runway_bridge_dev.cli", "dev"]
GLUE_TEMPLATE = Path(__file__).parent / "fixtures" / "glue" / "template.yaml"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNWAY_BRIDGE_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.mark.slow
def test_dev_prints_a_working_api_url_and_key_and_stops_cleanly_on_ctrl_c() -> None:
    started = time.monotonic()
    process = subprocess.Popen(
        [*CLI, "--port", "0"],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner: dict[str, str] = {}
        lines = []
        while not lines or "Ctrl-C stops" not in lines[-1]:
            line = process.stdout.readline()
            assert line, f"dev exited early:\n{''.join(lines)}"
            lines.append(line)
            name, separator, value = line.strip().partition(": ")
            if separator:
                banner.setdefault(name, value)
            if name == "API URL":
                startup_s = time.monotonic() - started
        api_url = banner["API URL"]
        response = httpx.get(f"{api_url}/v1/health", timeout=10)
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "ok"}
        assert banner["Runway"].startswith("emulator at http://127.0.0.1:")
        # The printed key works on an authorized route; a made-up one does not.
        key = banner["bridge API key"].split()[0]
        listed = httpx.get(f"{api_url}/v1/tasks", headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert listed.status_code == 200, listed.text
        refused = httpx.get(f"{api_url}/v1/tasks", headers={"Authorization": "Bearer rb_made_up"}, timeout=10)
        assert refused.status_code == 401
        assert banner["webhook secret"].startswith("whsec_")
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "local stack stopped." in output
    print(f"runway-bridge dev: API URL printed after {startup_s:.2f} s")


def test_real_runway_needs_the_bridge_specific_key_variable() -> None:
    env = _env()
    env["RUNWAYML_API_SECRET"] = "a-bridge-key-not-a-runway-key"
    result = subprocess.run(
        [*CLI, "--port", "0", "--real-runway"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "RUNWAY_BRIDGE_RUNWAY_API_KEY" in result.stderr


@pytest.mark.slow
def test_data_dir_keeps_items_objects_and_secrets_across_restarts(tmp_path: Path) -> None:
    data_dir = tmp_path / "state"
    with LocalStack(GLUE_TEMPLATE, use_emulator=False, run_schedules=False, data_dir=data_dir) as first:
        table = str(first.aws.resolve({"Ref": "NotesTable"}))
        bucket = str(first.aws.resolve({"Ref": "FilesBucket"}))
        first.aws.boto3_client("dynamodb").put_item(
            TableName=table, Item={"pk": {"S": "note-1"}, "blob": {"B": b"\x00\x01"}, "n": {"N": "7"}}
        )
        first.aws.boto3_client("s3").put_object(
            Bucket=bucket, Key="out/video.mp4", Body=b"\x00video", ContentType="video/mp4"
        )
        first.aws.boto3_client("secretsmanager").create_secret(Name="tenant/whsec", SecretString="whsec_abc")
    assert "note-1" in (data_dir / "dynamodb" / "NotesTable.jsonl").read_text()
    # Control: without the data dir a new stack starts empty, so what follows proves the restore.
    with LocalStack(GLUE_TEMPLATE, use_emulator=False, run_schedules=False) as fresh:
        table = str(fresh.aws.resolve({"Ref": "NotesTable"}))
        assert "Item" not in fresh.aws.boto3_client("dynamodb").get_item(
            TableName=table, Key={"pk": {"S": "note-1"}}
        )
    with LocalStack(GLUE_TEMPLATE, use_emulator=False, run_schedules=False, data_dir=data_dir) as second:
        table = str(second.aws.resolve({"Ref": "NotesTable"}))
        bucket = str(second.aws.resolve({"Ref": "FilesBucket"}))
        item = second.aws.boto3_client("dynamodb").get_item(TableName=table, Key={"pk": {"S": "note-1"}})[
            "Item"
        ]
        assert item == {"pk": {"S": "note-1"}, "blob": {"B": b"\x00\x01"}, "n": {"N": "7"}}
        stored = second.aws.boto3_client("s3").get_object(Bucket=bucket, Key="out/video.mp4")
        assert stored["Body"].read() == b"\x00video"
        assert stored["ContentType"] == "video/mp4"
        secret = second.aws.boto3_client("secretsmanager").get_secret_value(SecretId="tenant/whsec")
        assert secret["SecretString"] == "whsec_abc"


@pytest.mark.parametrize("bad", ["novalue", "=x"])
def test_parameter_override_must_be_name_equals_value(bad: str) -> None:
    result = subprocess.run(
        [*CLI, "--port", "0", "--parameter", bad],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "NAME=VALUE" in result.stderr
