"""The tenant console in headless Chromium against `runway-bridge dev`: sign in (a wrong key is
refused), a job submitted through the API reaches SUCCEEDED in the list without a reload, its page
plays the video and lists the webhook attempts, a redelivery adds one, the secret rotates, usage
shows the tenant's counters; another tenant's job stays invisible, a reference holding HTML stays
text, a phone-wide window needs no horizontal scroll, and axe-core finds no accessibility violation
on any page, wide or phone-wide. Screenshots of the four main pages are written on the way
(conftest.screenshot).

The checks share one stack, one browser and one job and depend on their order, so they run as the
steps of one test: xdist never hands a test's steps to two workers (which would start a second stack
and browser)."""

from __future__ import annotations

import hashlib
import time
import warnings
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from tests.e2e.cli.conftest import run
from tests.e2e.console.conftest import (
    RECEIVER_ANSWER,
    Receiver,
    Stack,
    accessibility_violations,
    describe_violations,
    screenshot,
    text_of_page,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

JOB_MODEL = "veo3"
# A second job that Runway (the emulator) refuses at once: the list and its filters show a failure.
FAILING_MODEL = "veo3.1_fast"
FAILING_PROMPT = "[fail:SAFETY.INPUT.TEXT] a storm over a lighthouse"
# Long enough that the signed-in list surely shows the job unfinished first, even on a loaded machine.
JOB_SECONDS = 25.0
XSS_REFERENCE = '<img src=x onerror="window.__xss = 1">'
KEY_ITEM = "runway-bridge.key"
UNFINISHED = {"QUEUED", "SUBMITTING", "PENDING", "THROTTLED", "RUNNING", "COPYING"}


@pytest.fixture(scope="module")
def console_url(stack: Stack) -> str:
    assert stack.console_url == f"{stack.api_url}/console"
    return stack.console_url


@pytest.fixture(scope="module")
def job(stack: Stack, receiver: Receiver) -> dict[str, Any]:
    """The module's job, submitted through the API; its model runs for JOB_SECONDS at the emulator,
    so the console first shows it unfinished and then has to update by itself."""
    with httpx.Client(trust_env=False, timeout=30) as plain:
        plain.patch(
            f"{stack.emulator_url}/_emulator/config", json={"durations": {JOB_MODEL: JOB_SECONDS}}
        ).raise_for_status()
    body = {
        "model": JOB_MODEL,
        "promptText": "a paper boat drifting down a rain gutter",
        "ratio": "1280:720",
        "duration": 5,
        "reference": XSS_REFERENCE,
        "callbackUrl": receiver.url,
    }
    with stack.api() as api:
        answer = api.post("/v1/text_to_video", json=body)
    assert answer.status_code in (200, 201), answer.text
    return {"id": answer.json()["id"]}


@pytest.fixture(scope="module")
def failed_job(stack: Stack, job: dict[str, Any]) -> dict[str, Any]:
    """A job the emulator fails by its prompt (a moderation code), submitted after the module's job;
    it is FAILED long before that one finishes."""
    body = {"model": FAILING_MODEL, "promptText": FAILING_PROMPT, "ratio": "1280:720", "duration": 5}
    with stack.api() as api:
        answer = api.post("/v1/text_to_video", json=body)
    assert answer.status_code in (200, 201), answer.text
    return {"id": answer.json()["id"]}


def sign_in(driver: Any, console_url: str, key: str) -> None:
    driver.get(console_url)
    field = wait_until(driver, lambda d: visible(d, "key"), "the sign-in form")
    field.clear()
    field.send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "#signin-form button[type=submit]").click()
    wait_until(driver, lambda d: visible(d, "nav") and visible(d, "page-title"), "signed in")
    # The page a user lands on has the focus on its title (the sign-in form is gone).
    wait_until(
        driver,
        lambda d: d.execute_script("return document.activeElement.id") == "page-title",
        "the title focused",
    )


def visible(driver: Any, element_id: str) -> Any:
    found = driver.find_elements(By.ID, element_id)
    return found[0] if found and found[0].is_displayed() else None


def without_query(url: str) -> str:
    return urlsplit(url)._replace(query="", fragment="").geturl()


def api_view(stack: Stack, job_id: str) -> dict[str, Any]:
    with stack.api() as api:
        answer = api.get(f"/v1/tasks/{job_id}")
    assert answer.status_code == 200, answer.text
    view: dict[str, Any] = answer.json()
    return view


# --- the tests, in order --------------------------------------------------------------------------------


def check_the_page_is_served_with_a_strict_policy(stack: Stack, console_url: str) -> None:
    answer = httpx.get(console_url, timeout=30, trust_env=False)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cache-control"] == "no-store"


def check_a_wrong_key_is_refused_and_nothing_is_kept(browser: Any, console_url: str) -> None:
    browser.get(console_url)
    field = wait_until(browser, lambda d: visible(d, "key"), "the sign-in form")
    field.send_keys("rwb_not-a-key")
    field.submit()
    error = wait_until(
        browser,
        lambda d: d.find_element(By.ID, "signin-error").text or None,
        "the refusal",
    )
    assert error == "That key was refused."
    assert browser.execute_script(f"return sessionStorage.getItem('{KEY_ITEM}')") is None
    assert not browser.find_element(By.ID, "nav").is_displayed()
    assert "rwb_not-a-key" not in browser.current_url


def check_sign_in_then_the_job_reaches_succeeded_in_the_list_without_a_reload(
    browser: Any, stack: Stack, job: dict[str, Any], failed_job: dict[str, Any], console_url: str
) -> None:
    sign_in(browser, console_url, stack.key)
    # The key is in this tab's storage only: not in the URL, no cookie.
    assert browser.execute_script(f"return sessionStorage.getItem('{KEY_ITEM}')") == stack.key
    assert stack.key not in browser.current_url
    assert browser.get_cookies() == []
    row = f"tr[data-job-id='{job['id']}']"
    wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, row), "the job in the list")
    # Each state the row shows from now on (a progress bar too), in order; and a marker that a
    # reload would wipe.
    browser.execute_script(
        """
        window.__sameDocument = true;
        window.__seen = [];
        const body = document.getElementById('jobs-body');
        const note = () => {
          const row = body.querySelector(`tr[data-job-id="${arguments[0]}"]`);
          if (!row) return;
          const state = row.dataset.status + (row.querySelector('progress') ? '+progress' : '');
          if (window.__seen[window.__seen.length - 1] !== state) window.__seen.push(state);
        };
        note();
        new MutationObserver(note).observe(body, {childList: true, subtree: true});
        """,
        job["id"],
    )
    wait_until(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, f"{row}[data-status='SUCCEEDED']"),
        "the job SUCCEEDED in the list",
    )
    assert browser.execute_script("return window.__sameDocument === true"), "the page was reloaded"
    # A list that redraws itself every few seconds is in no live region: a screen reader would read
    # it all out again each time.
    live = "[aria-live], [role=status], [role=alert], [role=log]"
    assert browser.execute_script(f"return document.getElementById('jobs-body').closest('{live}')") is None
    seen = browser.execute_script("return window.__seen")
    print(f"statuses the list showed: {seen}")
    assert seen[0].split("+")[0] in UNFINISHED, seen
    assert seen[-1] == "SUCCEEDED"
    cells = browser.find_element(By.CSS_SELECTOR, row).find_elements(By.TAG_NAME, "td")
    assert [cell.text for cell in cells[1:4]] == ["SUCCEEDED", "text_to_video", JOB_MODEL]
    failed = f"tr[data-job-id='{failed_job['id']}']"
    wait_until(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, f"{failed}[data-status='FAILED']"),
        "the failing job FAILED in the list",
    )
    cells = browser.find_element(By.CSS_SELECTOR, failed).find_elements(By.TAG_NAME, "td")
    assert [cell.text for cell in cells[1:4]] == ["FAILED", "text_to_video", FAILING_MODEL]
    screenshot(browser, "jobs")


def check_the_filters_narrow_the_list(browser: Any, job: dict[str, Any], failed_job: dict[str, Any]) -> None:
    row, failed = job["id"], failed_job["id"]

    def shows(*ids: str) -> Any:
        def shown(d: Any) -> bool:
            # Read in one script: the list may be redrawn between two WebDriver calls.
            found = d.execute_script(
                "return [...document.querySelectorAll('#jobs-body tr')].map((r) => r.dataset.jobId)"
            )
            return set(found) == set(ids)

        return shown

    def apply(status: str = "", operation: str = "", model: str = "") -> None:
        Select(browser.find_element(By.ID, "filter-status")).select_by_value(status)
        for field, value in (("filter-operation", operation), ("filter-model", model)):
            element = browser.find_element(By.ID, field)
            element.clear()
            element.send_keys(value)
        browser.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
        # The form is drawn anew with the list: the button used keeps the focus.
        assert browser.execute_script("return document.activeElement.id") == "apply-filters"

    def shows_only_none() -> Any:
        return lambda d: "No jobs match these filters." in d.find_element(By.ID, "jobs-note").text

    apply(status="FAILED")
    wait_until(browser, shows(failed), "only the FAILED job")
    apply(status="SUCCEEDED")
    wait_until(browser, shows(row), "only the SUCCEEDED job")
    apply(status="TIMED_OUT")
    wait_until(browser, shows_only_none(), "no TIMED_OUT job")
    apply(model="gen4.5")
    wait_until(browser, shows_only_none(), "no gen4.5 job")
    apply(operation="text_to_video", model=JOB_MODEL)
    wait_until(browser, shows(row), f"only the text_to_video {JOB_MODEL} job")
    apply(operation="image_to_video")
    wait_until(browser, shows_only_none(), "no image_to_video job")
    apply()
    wait_until(browser, shows(row, failed), "all jobs")


def check_a_reference_holding_html_is_shown_as_text(browser: Any, job: dict[str, Any]) -> None:
    cell = browser.find_element(By.CSS_SELECTOR, f"tr[data-job-id='{job['id']}'] td.reference")
    assert cell.text == XSS_REFERENCE
    assert cell.find_elements(By.TAG_NAME, "img") == []
    assert browser.execute_script("return window.__xss === undefined")


def check_the_job_page_plays_the_video_and_lists_the_webhook_attempt(
    browser: Any, stack: Stack, job: dict[str, Any], receiver: Receiver
) -> None:
    browser.find_element(By.CSS_SELECTOR, f"tr[data-job-id='{job['id']}'] a").click()
    wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#job-outputs video"), "the video")
    state = wait_until(
        browser,
        lambda d: d.execute_script(
            "const v = document.querySelector('#job-outputs video');"
            "if (v && v.error) return {error: v.error.code, message: v.error.message};"
            "return v && v.readyState >= 3 && v.duration > 0"
            " ? {readyState: v.readyState, duration: v.duration, src: v.currentSrc} : null;"
        ),
        "the video playable",
    )
    assert "error" not in state, f"the video failed: {state} (console: {browser.get_log('browser')[-5:]})"
    assert state["duration"] > 0
    view = api_view(stack, job["id"])
    output = view["bridge"]["outputs"][0]
    # The page plays the stable link (a redirect to a fresh presign, allowed by the page's policy).
    assert without_query(state["src"]) == without_query(output["link"])
    assert urlsplit(state["src"]).path.endswith(f"/v1/outputs/{job['id']}/0")
    assert browser.find_element(By.CSS_SELECTOR, "[data-fact='sha256']").text == output["sha256"]
    assert browser.find_element(By.CSS_SELECTOR, "[data-fact='size']").get_attribute("data-bytes") == str(
        output["size"]
    )
    with httpx.Client(trust_env=False, timeout=30, follow_redirects=True) as plain:
        fetched = plain.get(state["src"])
    assert hashlib.sha256(fetched.content).hexdigest() == output["sha256"]
    assert (
        browser.find_element(By.CSS_SELECTOR, "[data-fact='Runway task']").text
        == view["bridge"]["runwayTaskId"]
    )
    wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#attempts tbody tr"), "a webhook attempt")
    first = browser.find_element(By.CSS_SELECTOR, "#attempts tbody tr")
    assert "200" in first.text
    assert "task.succeeded" in first.text
    assert any(body.get("type") == "task.succeeded" for body in receiver.bodies)
    # The receiver's answer, as text (its markup is not rendered).
    headers = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "#attempts thead th")]
    assert "Answer" in headers
    excerpt = first.find_element(By.CSS_SELECTOR, "td.excerpt")
    assert excerpt.text == RECEIVER_ANSWER.decode()
    assert excerpt.find_elements(By.TAG_NAME, "b") == []
    # The timeline: created, the Runway task, each status, the notification and the webhook attempt.
    kinds = wait_until(
        browser,
        lambda d: (
            found
            if {"submitted", "runway_task", "status", "notification", "webhook_attempt"}
            <= set(
                found := [
                    li.get_attribute("data-kind") for li in d.find_elements(By.CSS_SELECTOR, "#timeline li")
                ]
            )
            else None
        ),
        "the whole timeline",
    )
    assert kinds[0] == "submitted"
    statuses = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#timeline li[data-kind='status']")]
    assert any("SUCCEEDED" in text for text in statuses), statuses
    assert any("COPYING" in text for text in statuses), statuses
    screenshot(browser, "job")


def check_redeliver_adds_an_attempt(browser: Any, receiver: Receiver) -> None:
    before = len(browser.find_elements(By.CSS_SELECTOR, "#attempts tbody tr"))
    received = len(receiver.bodies)
    browser.find_element(By.ID, "redeliver").click()
    wait_until(
        browser,
        lambda d: "Redelivery queued" in d.find_element(By.ID, "redeliver-result").text,
        "the redelivery accepted",
    )
    wait_until(
        browser,
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#attempts tbody tr")) > before,
        "a new attempt row",
    )
    assert len(receiver.bodies) > received


def check_the_secret_is_revealed_on_click_and_rotates(browser: Any, stack: Stack, receiver: Receiver) -> None:
    browser.find_element(By.CSS_SELECTOR, "#nav a[data-page='webhooks']").click()
    reveal = wait_until(browser, lambda d: visible(d, "reveal-secret"), "the webhooks page")
    # Gone to by a link: the new page's title has the focus (a screen reader says where it is).
    assert browser.execute_script("return document.activeElement.id") == "page-title"
    assert not browser.find_element(By.ID, "secret-value").is_displayed()
    reveal.click()
    first = wait_until(
        browser,
        lambda d: visible(d, "secret-value") and d.find_element(By.ID, "secret-value").text,
        "the secret",
    )
    with stack.api() as api:
        assert api.get("/v1/webhooks/secret").json()["secret"] == first
    browser.find_element(By.ID, "rotate-secret").click()
    second = wait_until(
        browser,
        lambda d: (text := d.find_element(By.ID, "secret-value").text) != first and text,
        "the rotated secret",
    )
    with stack.api() as api:
        assert api.get("/v1/webhooks/secret").json()["secret"] == second
    assert "previous secret still verifies" in browser.find_element(By.ID, "secret-note").text

    field = browser.find_element(By.ID, "test-url")
    field.send_keys(receiver.url)
    browser.find_element(By.CSS_SELECTOR, "#test-form button[type=submit]").click()
    wait_until(
        browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-fact='delivered']"), "the test answer"
    )
    assert browser.find_element(By.CSS_SELECTOR, "[data-fact='delivered']").text == "yes"
    assert browser.find_element(By.CSS_SELECTOR, "[data-fact='statusCode']").text == "200"
    wait_until(
        browser,
        lambda d: "No dead-lettered delivery." in d.find_element(By.ID, "dead-letters").text,
        "the dead letters",
    )
    # The shown secret must not end up in the docs' screenshot.
    browser.find_element(By.ID, "reveal-secret").click()
    wait_until(
        browser, lambda d: not d.find_element(By.ID, "secret-value").is_displayed(), "the secret hidden"
    )
    screenshot(browser, "webhooks")


def check_usage_shows_the_tenants_counters(browser: Any, stack: Stack) -> None:
    browser.find_element(By.CSS_SELECTOR, "#nav a[data-page='usage']").click()
    wait_until(browser, lambda d: d.find_elements(By.ID, "usage-table"), "the usage page")
    assert browser.find_element(By.ID, "usage-tenant").text == stack.tenant_id
    jobs_today = browser.find_element(By.CSS_SELECTOR, "tr[data-counter='Jobs today'] td").text
    assert int(jobs_today) >= 1
    screenshot(browser, "usage")


def check_another_tenants_job_is_not_shown(
    browser: Any, stack: Stack, other_key: str, console_url: str
) -> None:
    with stack.api(other_key) as api:
        answer = api.post(
            "/v1/text_to_video",
            json={"model": "veo3", "promptText": "not yours", "ratio": "1280:720", "duration": 5},
        )
    assert answer.status_code in (200, 201), answer.text
    foreign = answer.json()["id"]
    browser.find_element(By.CSS_SELECTOR, "#nav a[data-page='jobs']").click()
    wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#jobs-body tr"), "the jobs list")
    shown = [
        row.get_attribute("data-job-id") for row in browser.find_elements(By.CSS_SELECTOR, "#jobs-body tr")
    ]
    assert foreign not in shown
    browser.get(f"{console_url}#/jobs/{foreign}")
    wait_until(browser, lambda d: visible(d, "job-missing"), f"'No such job' for {foreign}")
    assert "not yours" not in text_of_page(browser)


def check_the_page_has_no_accessibility_violations(browser: Any, page: str) -> None:
    """axe-core (WCAG 2.x A/AA rules and best practices: contrast, names and labels, landmarks,
    headings, table headers...) on the page as shown now."""
    violations = accessibility_violations(browser)
    if violations is None:  # only this check is left out; the test's other steps still run
        warnings.warn("axe-selenium-python needs Python 3.12+: no accessibility check", stacklevel=1)
        return
    if violations:
        rules = describe_violations(violations)
        pytest.fail(f"the {page} page breaks {len(violations)} axe rule(s):\n{rules}", pytrace=False)


def check_a_phone_wide_window_needs_no_horizontal_scroll(
    browser: Any, console_url: str, job: dict[str, Any], page: str
) -> None:
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    try:
        fragment = {
            "jobs": "#/jobs",
            "job": f"#/jobs/{job['id']}",
            "webhooks": "#/webhooks",
            "usage": "#/usage",
        }[page]
        browser.get(f"{console_url}{fragment}")
        wait_until(browser, lambda d: visible(d, "page-title"), f"the {page} page")
        ready = {
            "jobs": "#jobs-body tr",
            "job": "#job-outputs video",
            "webhooks": "#dead-letters p, #letters",
            "usage": "#usage-table",
        }
        wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ready[page]), f"the {page} content")
        widths = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[1] == 390
        assert widths[0] <= widths[1], f"{page}: {widths[0]} px wide in a {widths[1]} px window"
        check_the_page_has_no_accessibility_violations(browser, f"{page} (390 px)")
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def check_every_control_of_the_jobs_page_is_reached_by_keyboard_with_a_visible_focus(
    browser: Any, console_url: str, job: dict[str, Any]
) -> None:
    browser.get(f"{console_url}#/jobs")
    wait_until(
        browser, lambda d: d.find_elements(By.CSS_SELECTOR, f"tr[data-job-id='{job['id']}']"), "the list"
    )
    browser.execute_script("document.activeElement && document.activeElement.blur()")
    reached: list[str] = []
    for _ in range(20):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        focused = browser.execute_script(
            """
            const e = document.activeElement;
            if (!e || e === document.body) return null;
            const style = getComputedStyle(e);
            const name = e.id || e.getAttribute('href') || e.textContent.trim();
            return [name, style.outlineStyle, style.outlineWidth];
            """
        )
        if focused is None:
            continue
        name, outline, width = focused
        assert outline != "none", f"{name} has no visible focus"
        assert width != "0px", f"{name} has no visible focus"
        reached.append(name)
    expected = {"#main", "#/jobs", "#/webhooks", "#/usage", "sign-out", "filter-status", "filter-operation"}
    expected |= {"filter-model", "filter-reference", "apply-filters", f"#/jobs/{job['id']}"}
    assert expected <= set(reached), reached


def check_a_key_revoked_while_the_tab_is_open_signs_the_tab_out(
    browser: Any, stack: Stack, other_key: str, console_url: str
) -> None:
    browser.get(console_url)
    wait_until(browser, lambda d: visible(d, "sign-out"), "signed in")
    browser.find_element(By.ID, "sign-out").click()
    wait_until(browser, lambda d: visible(d, "key"), "signed out")
    assert browser.execute_script(f"return sessionStorage.getItem('{KEY_ITEM}')") is None
    sign_in(browser, console_url, other_key)
    wait_until(
        browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#jobs-body tr"), "the other tenant's jobs"
    )
    revoked = run(["keys", "revoke", other_key], stack.env, stack.workdir)
    assert revoked.returncode == 0, revoked.stderr
    message = wait_until(
        browser,
        lambda d: visible(d, "key") and d.find_element(By.ID, "signin-error").text,
        "signed out by a 401",
    )
    assert message == "Your key was refused; sign in again."
    assert browser.execute_script(f"return sessionStorage.getItem('{KEY_ITEM}')") is None


@pytest.mark.timeout(900)
def test_the_console_in_a_browser(
    browser: Any,
    stack: Stack,
    receiver: Receiver,
    other_key: str,
    console_url: str,
    job: dict[str, Any],
    failed_job: dict[str, Any],
) -> None:
    timings: list[str] = []

    def step(check: Any, *args: Any) -> None:
        started = time.monotonic()
        check(*args)
        timings.append(f"{time.monotonic() - started:6.1f} s  {check.__name__.removeprefix('check_')}")

    try:
        step(check_the_page_is_served_with_a_strict_policy, stack, console_url)
        step(check_a_wrong_key_is_refused_and_nothing_is_kept, browser, console_url)
        step(check_the_page_has_no_accessibility_violations, browser, "sign-in")
        step(
            check_sign_in_then_the_job_reaches_succeeded_in_the_list_without_a_reload,
            browser,
            stack,
            job,
            failed_job,
            console_url,
        )
        step(check_the_page_has_no_accessibility_violations, browser, "jobs")
        step(check_the_filters_narrow_the_list, browser, job, failed_job)
        step(check_a_reference_holding_html_is_shown_as_text, browser, job)
        step(check_the_job_page_plays_the_video_and_lists_the_webhook_attempt, browser, stack, job, receiver)
        step(check_the_page_has_no_accessibility_violations, browser, "job")
        step(check_redeliver_adds_an_attempt, browser, receiver)
        step(check_the_secret_is_revealed_on_click_and_rotates, browser, stack, receiver)
        step(check_the_page_has_no_accessibility_violations, browser, "webhooks")
        step(check_usage_shows_the_tenants_counters, browser, stack)
        step(check_the_page_has_no_accessibility_violations, browser, "usage")
        step(check_another_tenants_job_is_not_shown, browser, stack, other_key, console_url)
        for page in ("jobs", "job", "webhooks", "usage"):
            step(check_a_phone_wide_window_needs_no_horizontal_scroll, browser, console_url, job, page)
        step(
            check_every_control_of_the_jobs_page_is_reached_by_keyboard_with_a_visible_focus,
            browser,
            console_url,
            job,
        )
        step(
            check_a_key_revoked_while_the_tab_is_open_signs_the_tab_out,
            browser,
            stack,
            other_key,
            console_url,
        )
    finally:
        print("console browser steps:\n" + "\n".join(timings))
