"""The newcomer's rough edges, against a real `runway-bridge dev`: one-line errors, `--json`
everywhere, paging, resuming a wait, cancel vs delete, character_performance's reference, files
checked before upload, a listener that follows a restart, the quiet console and dev.json, the
README's SDK snippet as pasted, and a burst of simultaneous requests."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.cli.conftest import (
    SLOW_MODEL,
    Process,
    make_slow_model,
    poll,
    read_profile,
    run,
    task_status,
)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def ok(args: list[str], env: dict[str, str], cwd: Path) -> Any:
    done = run([*args, "--json"], env, cwd)
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


def test_errors_are_one_line_with_their_exit_code(dev: Process, env: dict[str, str], workdir: Path) -> None:
    unknown = run(["tasks", "list", "--key", "rwb_not-a-key"], env, workdir)
    assert unknown.returncode == 1
    assert "answered 401: Unauthorized" in one_error_line(unknown)
    assert "None" not in unknown.stderr
    no_stack = {**env, "RUNWAY_BRIDGE_HOME": str(workdir / "no-stack")}
    keyless = run(["keys", "create", "--tenant", "x"], no_stack, workdir)
    assert keyless.returncode == 2
    assert "make dev" in one_error_line(keyless)
    unreachable = run(["tasks", "get", "x", "--url", "http://127.0.0.1:9", "--key", "k"], env, workdir)
    assert unreachable.returncode == 3
    one_error_line(unreachable)


def test_keys_and_the_other_commands_answer_json(dev: Process, env: dict[str, str], workdir: Path) -> None:
    created = ok(["keys", "create", "--tenant", "cli-json", "--max-in-flight", "2"], env, workdir)
    assert created["tenantId"] == "cli-json"
    key = str(created["apiKey"])
    assert str(created["webhookSecret"]).startswith("whsec_")
    updated = ok(["keys", "update", "--tenant", "cli-json", "--max-jobs-per-day", "9"], env, workdir)
    assert updated["limits"] == {**created["limits"], "maxJobsPerDay": 9}
    assert ok(["usage", "--key", key], env, workdir)["tenantId"] == "cli-json"
    assert ok(["tasks", "list", "--key", key], env, workdir)["data"] == []
    assert ok(["keys", "revoke", key], env, workdir) == {"revoked": True}


def test_list_pages_with_cursor_and_all(dev: Process, env: dict[str, str], workdir: Path) -> None:
    key = str(ok(["keys", "create", "--tenant", "cli-pages"], env, workdir)["apiKey"])
    ids = [
        str(ok(["generate", "text_to_video", "--prompt", f"page {n}", "--key", key], env, workdir)["id"])
        for n in range(3)
    ]
    first = ok(["tasks", "list", "--limit", "2", "--key", key], env, workdir)
    assert len(first["data"]) == 2
    cursor = str(first["nextCursor"])
    second = ok(["tasks", "list", "--limit", "2", "--cursor", cursor, "--key", key], env, workdir)
    every = ok(["tasks", "list", "--limit", "1", "--all", "--key", key], env, workdir)
    paged = [v["id"] for v in [*first["data"], *second["data"]]]
    assert sorted(paged) == sorted(ids)
    assert sorted(v["id"] for v in every["data"]) == sorted(ids)
    assert "nextCursor" not in every
    text = run(["tasks", "list", "--limit", "2", "--key", key], env, workdir)
    assert "--cursor" in text.stderr


def test_an_interrupted_wait_is_resumed_then_cancel_and_delete(
    dev: Process, env: dict[str, str], workdir: Path
) -> None:
    # A slow task: --wait, then Ctrl-C; the task goes on and the message says how to resume.
    make_slow_model(env)
    waiting = Process(
        ["generate", "text_to_video", "--prompt", "slow", "--model", SLOW_MODEL, "--wait"], env, workdir
    )
    line = waiting.wait_for_line(lambda text: "submitted; waiting" in text, 120)
    slow_id = line.split()[1]
    waiting.popen.send_signal(signal.SIGINT)
    assert waiting.popen.wait(timeout=60) == 130
    assert f"runway-bridge tasks wait {slow_id}" in waiting.output()
    assert task_status(env, workdir, slow_id) in {"PENDING", "RUNNING"}

    # A task that finishes: `tasks wait` picks it up and downloads; `tasks download` does it later.
    done_id = str(ok(["generate", "text_to_video", "--prompt", "quick"], env, workdir)["id"])
    waited = ok(["tasks", "wait", done_id, "-o", "resumed/a.mp4"], env, workdir)
    assert waited["status"] == "SUCCEEDED"
    assert waited["files"] == ["resumed/a.mp4"]
    downloaded = ok(["tasks", "download", done_id, "-o", "resumed/b.mp4"], env, workdir)
    assert downloaded["files"] == ["resumed/b.mp4"]
    assert (workdir / "resumed/a.mp4").read_bytes() == (workdir / "resumed/b.mp4").read_bytes()
    not_yet = run(["tasks", "download", slow_id], env, workdir)
    assert not_yet.returncode == 1
    assert f"tasks wait {slow_id}" in one_error_line(not_yet)

    # cancel refuses the finished task and deletes nothing; delete asks, then deletes.
    refused = run(["tasks", "cancel", done_id], env, workdir)
    assert refused.returncode == 1
    assert "nothing to cancel" in one_error_line(refused)
    assert task_status(env, workdir, done_id) == "SUCCEEDED"
    unconfirmed = run(["tasks", "delete", done_id], env, workdir)  # no terminal to ask on
    assert unconfirmed.returncode == 2
    assert task_status(env, workdir, done_id) == "SUCCEEDED"
    assert ok(["tasks", "delete", done_id, "--yes"], env, workdir)["deleted"] is True
    gone = run(["tasks", "get", done_id], env, workdir)
    assert gone.returncode == 1
    assert "404" in gone.stderr

    # The slow one: delete refuses an unfinished task, cancel ends it.
    assert run(["tasks", "delete", slow_id, "--yes"], env, workdir).returncode == 1
    assert run(["tasks", "cancel", slow_id], env, workdir).returncode == 0
    poll(lambda: task_status(env, workdir, slow_id) == "CANCELLED", timeout_s=120, what="CANCELLED")


def emulator_uploads(env: dict[str, str]) -> int:
    counters = httpx.get(
        f"{read_profile(env)['emulator_url']}/_emulator/counters", timeout=30, trust_env=False
    )
    return int(counters.json().get("POST /v1/uploads", 0))


def test_character_performance_reference_and_files_checked_before_upload(
    dev: Process, env: dict[str, str], workdir: Path
) -> None:
    clip = workdir / "perf.mp4"
    # Any MP4 will do as the performance: the stack's own output.
    task_id = str(
        ok(["generate", "text_to_video", "--prompt", "clip", "--wait", "-o", str(clip)], env, workdir)["id"]
    )
    assert task_id
    face = workdir / "face.png"
    face.write_bytes(PNG)
    notes = workdir / "notes.png"
    notes.write_text("not a picture\n")

    before = emulator_uploads(env)
    refused = run(
        ["generate", "character_performance", "--image", str(notes), "--video", str(clip)], env, workdir
    )
    assert refused.returncode == 2
    assert "not an image" in one_error_line(refused)
    assert emulator_uploads(env) == before  # nothing was uploaded

    created = ok(
        [
            "generate",
            "character_performance",
            "--image",
            str(face),
            "--video",
            str(clip),
            "--reference",
            "take-7",
        ],
        env,
        workdir,
    )
    found = ok(["tasks", "list", "--reference", "take-7"], env, workdir)
    assert [v["id"] for v in found["data"]] == [created["id"]]
    assert emulator_uploads(env) == before + 2


def test_the_quiet_console_dev_json_and_twenty_simultaneous_requests(
    dev: Process, env: dict[str, str], workdir: Path
) -> None:
    profile = read_profile(env)
    secret = ok(["tasks", "list"], env, workdir)  # the profile works for the CLI
    assert "data" in secret
    answer = httpx.get(
        f"{profile['api_url']}/v1/webhooks/secret",
        headers={"Authorization": f"Bearer {profile['api_key']}"},
        timeout=30,
        trust_env=False,
    )
    assert answer.json()["secret"] == profile["webhook_secret"]
    assert (
        httpx.get(f"{profile['emulator_url']}/_emulator/config", timeout=30, trust_env=False).status_code
        == 200
    )

    task_id = str(
        ok(["generate", "text_to_video", "--prompt", "console", "--wait", "-o", "c.mp4"], env, workdir)["id"]
    )
    dev.wait_for_line(lambda text: re.search(rf"job {task_id} COPYING -> SUCCEEDED", text) is not None, 60)
    printed = dev.seen
    assert not [text for text in printed if text.startswith("{")]  # no JSON log lines or EMF blobs
    assert not [text for text in printed if "No application metrics" in text]

    def get(_: int) -> int:
        with httpx.Client(trust_env=False, timeout=60) as http:
            return http.get(
                f"{profile['api_url']}/v1/tasks", headers={"Authorization": f"Bearer {profile['api_key']}"}
            ).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        assert list(pool.map(get, range(20))) == [200] * 20


def readme_sdk_snippet() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### The official SDK against the bridge") :]
    return section[section.index("```python\n") + len("```python\n") : section.index("```\n", 10)]


def test_the_readme_sdk_snippet_works_as_pasted(dev: Process, env: dict[str, str], workdir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", readme_sdk_snippet()],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "http://127.0.0.1:" in done.stdout  # the presigned URL of the S3 copy


def test_a_listener_left_running_follows_a_restarted_dev(env: dict[str, str], workdir: Path) -> None:
    """Its own stack, stopped and started again (new port, new key, new tenant secret)."""
    home = {**env, "RUNWAY_BRIDGE_HOME": str(workdir / "restart-state")}
    first = Process(["dev", "--port", "0"], home, workdir)
    listener: Process | None = None
    second: Process | None = None
    try:
        first.wait_for_line(lambda line: "Ctrl-C stops." in line, timeout_s=180)
        listener = Process(["webhooks", "listen", "--port", "0", "--json"], home, workdir)
        listener.wait_for_line(lambda line: line.startswith('{"listening"'), 60)
        assert first.stop() == 0
        second = Process(["dev", "--port", "0"], home, workdir)
        second.wait_for_line(lambda line: "Ctrl-C stops." in line, timeout_s=180)
        done = ok(
            ["generate", "text_to_video", "--prompt", "after restart", "--wait", "-o", "r.mp4"], home, workdir
        )
        line = listener.wait_for_line(lambda text: str(done["id"]) in text, 60)
        assert json.loads(line)["verified"] is True
    finally:
        for process in (listener, second, first):
            if process is not None:
                process.stop()
