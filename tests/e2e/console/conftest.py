"""One dev stack (`runway-bridge dev --port 0` as a process) and one headless Chromium per module,
a loopback webhook receiver, and the waits the browser tests use: every wait is a condition with a
generous bound, never a sleep (CI is a loaded 2-core machine).

Chromium and ChromeDriver are Debian's (`make install` installs them); Selenium is told both paths
and runs offline, so nothing is downloaded and nothing leaves loopback."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.cli.conftest import Process, read_profile, run

try:  # axe-core, bundled by axe-selenium-python (Python 3.12+; the dev venv is 3.13)
    from axe_selenium_python import Axe
except ImportError:  # pragma: no cover - only on a 3.11 dev venv
    Axe = None

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REPO = Path(__file__).resolve().parents[3]
# Always written here (gitignored); also into docs/console/ when RUNWAY_BRIDGE_SCREENSHOTS=docs.
BUILD_SCREENSHOTS = REPO / "build" / "console-screenshots"
DOCS_SCREENSHOTS = REPO / "docs" / "console"
WAIT_S = 90.0
# What the receiver answers: the console shows it as text (answer excerpt), never as markup.
RECEIVER_ANSWER = b'{"ok": true, "note": "<b>received</b>"}'


@dataclass
class Receiver:
    url: str
    bodies: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Stack:
    api_url: str
    console_url: str  # as the banner prints it
    key: str
    tenant_id: str
    emulator_url: str
    env: dict[str, str]
    workdir: Path

    def api(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.api_url,
            headers={"Authorization": f"Bearer {key or self.key}"},
            timeout=30,
            trust_env=False,
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("console")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "AWS_", "RUNWAY_BRIDGE_"))}
    env = {**clean, "RUNWAY_BRIDGE_HOME": str(workdir / "state")}
    process = Process(["dev", "--port", "0"], env, workdir)
    try:
        banner = process.wait_for_line(lambda line: "web console:" in line, timeout_s=180)
        process.wait_for_line(lambda line: "Ctrl-C stops." in line, timeout_s=60)
        profile = read_profile(env)
        yield Stack(
            api_url=profile["api_url"].rstrip("/"),
            console_url=banner.split("web console:", 1)[1].split()[0],
            key=profile["api_key"],
            tenant_id=profile["tenant_id"],
            emulator_url=profile["emulator_url"],
            env=env,
            workdir=workdir,
        )
    finally:
        assert process.stop() == 0


@pytest.fixture(scope="module")
def other_key(stack: Stack) -> str:
    """A bridge key of a second tenant, made the way an operator does."""
    created = run(["keys", "create", "--tenant", "console-other"], stack.env, stack.workdir)
    assert created.returncode == 0, created.stderr
    return next(line.split()[-1] for line in created.stdout.splitlines() if line.startswith("key:"))


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on loopback that records each body and answers 200 with a small JSON."""
    bodies: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                bodies.append(json.loads(raw))
            except ValueError:
                bodies.append({"raw": raw.decode(errors="replace")})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(RECEIVER_ANSWER)))
            self.end_headers()
            self.wfile.write(RECEIVER_ANSWER)

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks", bodies=bodies)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("Debian's chromium and chromium-driver are missing: `make install` installs them")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager never goes looking for a driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        # Without these Chromium reaches for the network on its own (updates, sync, field trials).
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--no-proxy-server",
        "--mute-audio",
        "--force-prefers-reduced-motion",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_S)
    driver.set_script_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


def wait_until(driver: Any, condition: Callable[[Any], Any], what: str, timeout_s: float = WAIT_S) -> Any:
    """The first truthy value of condition(driver) within the bound (WebDriverWait polls it)."""
    try:
        return WebDriverWait(driver, timeout_s, poll_frequency=0.25).until(condition)
    except TimeoutException:
        logs = []
        with contextlib.suppress(Exception):
            logs = [entry["message"] for entry in driver.get_log("browser")][-20:]
        pytest.fail(f"{what}: not within {timeout_s} s; page text:\n{text_of_page(driver)}\nconsole: {logs}")


def text_of_page(driver: Any) -> str:
    try:
        return str(driver.execute_script("return document.body.innerText"))[:3000]
    except Exception as exc:
        return f"(unreadable: {exc})"


def screenshot(driver: Any, name: str) -> Path:
    """A full-page PNG of what the browser shows, in the build directory (and docs/console/ when
    RUNWAY_BRIDGE_SCREENSHOTS=docs, as `make screenshots` runs it)."""
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "fromSurface": True}
    )
    png = base64.b64decode(shot["data"])
    BUILD_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = BUILD_SCREENSHOTS / f"{name}.png"
    path.write_bytes(png)
    if os.environ.get("RUNWAY_BRIDGE_SCREENSHOTS") == "docs":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOTS / f"{name}.png")
    return path


# axe-core's options: every rule it runs by default (WCAG 2.x A/AA and best practices), and no
# fetching of stylesheets it cannot read (`preload`): the console's one stylesheet is its own.
AXE_OPTIONS = '{"preload": false, "resultTypes": ["violations"]}'


def accessibility_violations(driver: Any) -> list[dict[str, Any]] | None:
    """axe-core's violations on the page as it is now, or None where axe-selenium-python is not
    installed (a Python 3.11 venv). axe is put into the page through WebDriver, which the page's
    Content-Security-Policy does not govern; it reads the page and loads nothing."""
    if Axe is None:
        return None
    axe = Axe(driver)
    axe.inject()
    results = axe.run(options=AXE_OPTIONS)
    # The console itself calls its API with fetch; axe's only way out would be an XHR.
    fetched = driver.execute_script(
        "return performance.getEntriesByType('resource')"
        ".filter((e) => e.initiatorType === 'xmlhttprequest').map((e) => e.name)"
    )
    assert fetched == [], f"axe fetched {fetched}"
    violations: list[dict[str, Any]] = results["violations"]
    return violations


def describe_violations(violations: list[dict[str, Any]]) -> str:
    """One paragraph per broken rule: its id, impact, what it asks, and each offending element
    (its selector and axe's reason)."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            selector = " ".join(
                " >> ".join(part) if isinstance(part, list) else part for part in node["target"]
            )
            lines.append(f"  {selector}: {node.get('failureSummary', '').replace(chr(10), ' ')}")
    return "\n".join(lines)
