"""`runway-bridge emulator` as a user runs it: prints where it listens, serves, stops on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx

from tests.dev.emulator.conftest import RUNWAY_VERSION, TEXT_TO_VIDEO


def test_cli_serves_until_ctrl_c() -> None:
    command = [
        sys.executable, "-m", "runway_bridge_dev.cli", "emulator",
        "--port", "0", "--api-key", "cli-key", "--seed", "3", "--clock-speed", "20",
        "--config-json", '{"fail_next": [503]}',
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert first_line.startswith("Runway emulator listening on http://127.0.0.1:"), first_line
        base_url = first_line.rsplit(" ", 1)[1].strip()
        assert "cli-key" in process.stdout.readline()
        headers = {"Authorization": "Bearer cli-key", "X-Runway-Version": RUNWAY_VERSION}
        assert (
            httpx.post(f"{base_url}/v1/text_to_video", json=TEXT_TO_VIDEO, headers=headers).status_code == 503
        )
        created = httpx.post(f"{base_url}/v1/text_to_video", json=TEXT_TO_VIDEO, headers=headers)
        assert created.status_code == 200
        assert httpx.get(f"{base_url}/_emulator/config").json()["clock_speed"] == 20.0
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "stopped" in stdout
    assert "Traceback" not in stderr


def test_cli_refuses_invalid_settings() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "runway_bridge_dev.cli", "emulator", "--port", "0", "--error-rate", "2"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "error_rate" in result.stdout
