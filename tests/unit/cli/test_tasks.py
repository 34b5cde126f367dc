"""`tasks`: paging, resuming a wait, downloading later, cancel vs delete, the status a person reads."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.unit.cli.conftest import FakeBridge, Result


def view(task_id: str, status: str, bridge_status: str | None = None, **extra: Any) -> dict[str, Any]:
    bridge = {"jobId": task_id, "status": bridge_status or status, "operation": "text_to_video"}
    bridge["model"] = "gen4.5"
    bridge.update(extra.pop("bridge", {}))
    return {"id": task_id, "status": status, "createdAt": "2026-01-01T00:00:00Z", "bridge": bridge, **extra}


def succeeded(task_id: str) -> dict[str, Any]:
    return view(
        task_id,
        "SUCCEEDED",
        output=[f"http://bridge.test/files/{task_id}.mp4"],
        bridge={"outputs": [{"contentType": "video/mp4"}]},
    )


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("runway_bridge_dev.client_cli.time.sleep", lambda _s: None)


def test_list_follows_a_cursor_and_all_pages(bridge: FakeBridge, cli: Callable[..., Result]) -> None:
    pages = {
        None: {"data": [view("a", "SUCCEEDED")], "nextCursor": "c1"},
        "c1": {"data": [view("b", "SUCCEEDED")], "nextCursor": "c2"},
        "c2": {"data": [view("c", "FAILED")]},
    }
    bridge.on("GET /v1/tasks", lambda r: httpx.Response(200, json=pages[r.url.params.get("cursor")]))

    first = cli("tasks", "list")
    assert first.out.splitlines()[0].startswith("a  SUCCEEDED")
    assert "--cursor c1" in first.err
    second = cli("tasks", "list", "--cursor", "c1", "--json")
    assert [v["id"] for v in json.loads(second.out)["data"]] == ["b"]
    every = cli("tasks", "list", "--all", "--json")
    parsed = json.loads(every.out)
    assert [v["id"] for v in parsed["data"]] == ["a", "b", "c"]
    assert "nextCursor" not in parsed


def test_wait_resumes_and_downloads(bridge: FakeBridge, cli: Callable[..., Result], tmp_path: Path) -> None:
    answers = iter([view("t1", "RUNNING", progress=0.5), view("t1", "RUNNING", "COPYING", progress=1.0)])
    bridge.on("GET /v1/tasks/t1", lambda _r: httpx.Response(200, json=next(answers, succeeded("t1"))))
    bridge.on("GET /files/t1.mp4", lambda _r: httpx.Response(200, content=b"mp4 bytes"))
    target = tmp_path / "out.mp4"
    result = cli("tasks", "wait", "t1", "-o", str(target))
    assert result.code == 0, result.err
    assert target.read_bytes() == b"mp4 bytes"
    assert "COPYING" in result.err  # the progress lines
    assert "100.0% RUNNING" not in result.err


def test_download_later_and_refuse_an_unfinished_one(
    bridge: FakeBridge, cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bridge.on("GET /v1/tasks/done", succeeded("done"))
    bridge.on("GET /files/done.mp4", lambda _r: httpx.Response(200, content=b"video"))
    bridge.on("GET /v1/tasks/busy", view("busy", "RUNNING"))
    result = cli("tasks", "download", "done", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["files"] == ["done.mp4"]
    assert (tmp_path / "done.mp4").read_bytes() == b"video"
    busy = cli("tasks", "download", "busy")
    assert busy.code == 1
    assert "tasks wait busy" in busy.err


def test_a_ctrl_c_during_wait_says_how_to_resume(bridge: FakeBridge, cli: Callable[..., Result]) -> None:
    def interrupted(_request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    bridge.on("GET /v1/tasks/t2", interrupted)
    result = cli("tasks", "wait", "t2")
    assert result.code == 130
    assert "runway-bridge tasks wait t2" in result.err


@pytest.mark.parametrize(
    ("status", "bridge_status"), [("SUCCEEDED", None), ("FAILED", None), ("RUNNING", "COPYING")]
)
def test_cancel_refuses_a_finished_task_and_deletes_nothing(
    bridge: FakeBridge, cli: Callable[..., Result], status: str, bridge_status: str | None
) -> None:
    bridge.on("GET /v1/tasks/t3", view("t3", status, bridge_status))
    bridge.on("DELETE /v1/tasks/t3", lambda _r: httpx.Response(204))
    result = cli("tasks", "cancel", "t3")
    assert result.code == 1
    assert "nothing to cancel" in result.err
    assert "tasks delete t3" in result.err
    assert bridge.sent("DELETE /v1/tasks/t3") == []


def test_cancel_an_unfinished_task(bridge: FakeBridge, cli: Callable[..., Result]) -> None:
    states = iter([view("t4", "RUNNING"), view("t4", "CANCELLED")])
    bridge.on("GET /v1/tasks/t4", lambda _r: httpx.Response(200, json=next(states)))
    bridge.on("DELETE /v1/tasks/t4", lambda _r: httpx.Response(204))
    result = cli("tasks", "cancel", "t4")
    assert result.code == 0, result.err
    assert result.out.strip() == "task t4 cancelled"


def test_delete_asks_first_and_yes_skips_asking(bridge: FakeBridge, cli: Callable[..., Result]) -> None:
    bridge.on("GET /v1/tasks/t5", succeeded("t5"))
    bridge.on("DELETE /v1/tasks/t5", lambda _r: httpx.Response(204))
    unconfirmed = cli("tasks", "delete", "t5")  # stdin is no terminal here: nobody to ask
    assert unconfirmed.code == 2
    assert "--yes" in unconfirmed.err
    assert bridge.sent("DELETE /v1/tasks/t5") == []
    confirmed = cli("tasks", "delete", "t5", "--yes")
    assert confirmed.code == 0, confirmed.err
    assert "deleted" in confirmed.out
    assert len(bridge.sent("DELETE /v1/tasks/t5")) == 1


def test_delete_refuses_an_unfinished_task(bridge: FakeBridge, cli: Callable[..., Result]) -> None:
    bridge.on("GET /v1/tasks/t6", view("t6", "RUNNING"))
    result = cli("tasks", "delete", "t6", "--yes")
    assert result.code == 1
    assert "tasks cancel t6" in result.err
    assert bridge.sent("DELETE /v1/tasks/t6") == []


@pytest.mark.parametrize(
    ("status", "bridge_status", "runway_status", "shown"),
    [
        ("PENDING", "QUEUED", None, "QUEUED"),
        ("PENDING", "PENDING", "RUNNING", "RUNNING"),
        ("RUNNING", "COPYING", "SUCCEEDED", "COPYING"),
        ("SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED"),
    ],
)
def test_the_status_a_person_reads(
    bridge: FakeBridge,
    cli: Callable[..., Result],
    status: str,
    bridge_status: str,
    runway_status: str | None,
    shown: str,
) -> None:
    bridge.on("GET /v1/tasks/t7", view("t7", status, bridge_status, bridge={"runwayStatus": runway_status}))
    result = cli("tasks", "get", "t7")
    assert result.out.startswith(f"t7  {shown}")
    as_json = json.loads(cli("tasks", "get", "t7", "--json").out)
    assert as_json["status"] == status  # the SDK's field keeps Runway's enum
