"""The newcomer's path, as processes: `runway-bridge dev` in one, `webhooks listen` in another, then
`generate --wait` ends with a decodable MP4 while the listener prints the verified webhook; then the
`tasks` and `keys` commands and their errors, all found through the dev profile (no flags)."""

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

import av
import pytest

pytestmark = pytest.mark.slow
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


def test_generate_waits_downloads_a_decodable_mp4_and_the_listener_verifies_the_webhook(
    dev: Process, env: dict[str, str], workdir: Path
) -> None:
    listener = Process(["webhooks", "listen", "--port", "0", "--json"], env, workdir)
    try:
        listening = json.loads(listener.wait_for_line(lambda line: line.startswith('{"listening"'), 60))
        assert listening["listening"].startswith("http://127.0.0.1:")
        started = time.monotonic()
        done = run(
            [
                "generate",
                "text_to_video",
                "--prompt",
                "a red fox in snow",
                "--wait",
                "--json",
                "-o",
                "out/fox.mp4",
            ],
            env,
            workdir,
        )
        elapsed = time.monotonic() - started
        assert done.returncode == 0, done.stderr + done.stdout
        result = json.loads(done.stdout)
        assert result["status"] == "SUCCEEDED"
        assert elapsed < 60
        video = workdir / "out" / "fox.mp4"
        assert result["files"] == ["out/fox.mp4"]
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert sum(1 for _ in container.decode(video=0)) > 0
        line = listener.wait_for_line(lambda text: '"verified": true' in text and result["id"] in text, 30)
        event = json.loads(line)["event"]
        assert event["type"] == "task.succeeded"
        assert event["data"]["jobId"] == result["id"]
    finally:
        listener.stop()


def test_tasks_get_list_and_cancel(dev: Process, env: dict[str, str], workdir: Path) -> None:
    submitted = run(["generate", "text_to_video", "--prompt", "a slow pan", "--json"], env, workdir)
    assert submitted.returncode == 0, submitted.stderr
    task_id = json.loads(submitted.stdout)["id"]
    got = run(["tasks", "get", task_id, "--json"], env, workdir)
    assert json.loads(got.stdout)["id"] == task_id
    listed = run(["tasks", "list", "--json"], env, workdir)
    assert task_id in [view["id"] for view in json.loads(listed.stdout)["data"]]
    cancelled = run(["tasks", "cancel", task_id], env, workdir)
    assert cancelled.returncode == 0, cancelled.stderr
    assert json.loads(run(["tasks", "get", task_id, "--json"], env, workdir).stdout)["status"] == "CANCELLED"


def test_keys_create_and_revoke_and_the_errors_a_user_sees(
    dev: Process, env: dict[str, str], workdir: Path
) -> None:
    created = run(["keys", "create", "--tenant", "cli-test"], env, workdir)
    assert created.returncode == 0, created.stderr
    key = next(line.split()[-1] for line in created.stdout.splitlines() if line.startswith("key:"))
    assert run(["tasks", "list", "--key", key], env, workdir).returncode == 0
    assert run(["keys", "revoke", key], env, workdir).stdout.strip() == "revoked"
    refused = run(["tasks", "list", "--key", key], env, workdir)
    assert refused.returncode == 1
    assert "answered 401" in refused.stderr
    missing = run(["tasks", "get", "no-such-task"], env, workdir)
    assert missing.returncode == 1
    assert "404" in missing.stderr
    nowhere = run(["tasks", "list"], {**env, "RUNWAY_BRIDGE_HOME": str(workdir / "empty")}, workdir)
    assert nowhere.returncode == 2
    assert "make dev" in nowhere.stderr
    unreachable = run(["tasks", "list", "--url", "http://127.0.0.1:9", "--key", "x"], env, workdir)
    assert unreachable.returncode == 3


def test_keys_set_limits_and_usage_shows_them_and_a_create_over_the_daily_limit_is_refused(
    dev: Process, env: dict[str, str], workdir: Path
) -> None:
    created = run(["keys", "create", "--tenant", "cli-limits", "--max-jobs-per-day", "1"], env, workdir)
    assert created.returncode == 0, created.stderr
    assert "maxJobsPerDay 1" in created.stdout
    key = next(line.split()[-1] for line in created.stdout.splitlines() if line.startswith("key:"))
    updated = run(["keys", "update", "--tenant", "cli-limits", "--max-in-flight", "3"], env, workdir)
    assert updated.returncode == 0, updated.stderr
    assert "maxInFlight 3" in updated.stdout
    assert "maxJobsPerDay 1" in updated.stdout

    first = run(["generate", "text_to_video", "--prompt", "one", "--key", key, "--json"], env, workdir)
    assert first.returncode == 0, first.stderr
    second = run(["generate", "text_to_video", "--prompt", "two", "--key", key], env, workdir)
    assert second.returncode == 1
    assert "429" in second.stderr
    assert "daily_jobs_limit" in second.stderr

    usage = json.loads(run(["usage", "--key", key, "--json"], env, workdir).stdout)
    assert usage["tenantId"] == "cli-limits"
    assert usage["today"]["jobs"] == 1
    assert usage["limits"]["maxInFlight"] == 3
    assert usage["limits"]["maxJobsPerDay"] == 1
    shown = run(["usage", "--key", key], env, workdir).stdout
    assert "jobs today      1 / 1" in shown
    bad = run(["keys", "update", "--tenant", "cli-limits", "--max-in-flight", "0"], env, workdir)
    assert bad.returncode == 1
