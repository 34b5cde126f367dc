"""The dev stack the CLI end-to-end tests drive: `runway-bridge dev --port 0` as a process, found
by the CLI through its profile in a private `RUNWAY_BRIDGE_HOME`."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

CLI = str(Path(sys.executable).with_name("runway-bridge"))


class Process:
    """A CLI process whose stdout lines are read in the background."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.popen = subprocess.Popen(
            [CLI, *args], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._pump_thread = threading.Thread(target=self._pump, args=(self.popen.stdout,), daemon=True)
        self._pump_thread.start()

    def _pump(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def wait_for_line(self, predicate: Any, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.popen.poll() is not None:
                    break
                continue
            self.seen.append(line)
            if predicate(line):
                return line
        pytest.fail(f"no such line within {timeout_s} s; output so far:\n" + "\n".join(self.seen[-40:]))

    def output(self) -> str:
        """Everything printed so far (after the process ended: everything)."""
        self._pump_thread.join(timeout=5)
        while not self.lines.empty():
            self.seen.append(self.lines.get_nowait())
        return "\n".join(self.seen)

    def stop(self) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait()


def run(
    args: list[str], env: dict[str, str], cwd: Path, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("newcomer")


@pytest.fixture(scope="module")
def env(workdir: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "AWS_", "RUNWAY_BRIDGE_"))}
    return {**clean, "RUNWAY_BRIDGE_HOME": str(workdir / "state")}


@pytest.fixture(scope="module")
def dev(env: dict[str, str], workdir: Path) -> Iterator[Process]:
    process = Process(["dev", "--port", "0"], env, workdir)
    try:
        process.wait_for_line(lambda line: "Ctrl-C stops." in line, timeout_s=180)
        yield process
    finally:
        assert process.stop() == 0
        assert "local stack stopped." in process.output()


def read_profile(env: dict[str, str]) -> dict[str, Any]:
    return dict(json.loads((Path(env["RUNWAY_BRIDGE_HOME"]) / "dev.json").read_text()))


SLOW_MODEL = "veo3.1"  # text_to_video model the emulator is told to take an hour for


def make_slow_model(env: dict[str, str]) -> None:
    """Tasks of SLOW_MODEL stay unfinished for the test's life (a cancel never races the finish)."""
    import httpx  # noqa: PLC0415

    emulator = read_profile(env)["emulator_url"]
    answer = httpx.patch(
        f"{emulator}/_emulator/config", json={"durations": {SLOW_MODEL: 3600.0}}, timeout=30, trust_env=False
    )
    answer.raise_for_status()


def poll(check: Any, *, timeout_s: float, what: str) -> Any:
    """check() until it returns something truthy; bounded, no fixed sleeps beyond a short backoff."""
    deadline = time.monotonic() + timeout_s
    delay = 0.2
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)
    pytest.fail(f"{what} not within {timeout_s} s (last: {last!r})")


def task_status(env: dict[str, str], cwd: Path, task_id: str) -> str:
    got = run(["tasks", "get", task_id, "--json"], env, cwd)
    assert got.returncode == 0, got.stderr
    return str(json.loads(got.stdout)["status"])
