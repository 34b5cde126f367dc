// runway-bridge console: a few pages over the bridge's own /v1 API, called with the tenant's key.
// Rules: the key lives in this tab's sessionStorage only (never a URL, never a cookie); every value
// from the API reaches the page through textContent or an attribute, never as markup.
"use strict";

(function () {
  const KEY_ITEM = "runway-bridge.key";
  const API = location.pathname.replace(/\/console\/?$/, "");
  const UNFINISHED = new Set(["QUEUED", "SUBMITTING", "PENDING", "THROTTLED", "RUNNING", "COPYING"]);
  const STATUSES = ["QUEUED", "SUBMITTING", "PENDING", "THROTTLED", "RUNNING", "COPYING", "SUCCEEDED",
    "FAILED", "CANCELLED", "TIMED_OUT", "SUBMISSION_UNKNOWN"];
  const FAST_MS = 2000;
  const SLOW_MS = 10000;
  const PAGE_SIZE = 25;

  let timer = null;
  let generation = 0; // bumped on every navigation: late answers of a left page are dropped

  // --- small DOM helpers ------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = String(value);
      else if (name === "on") for (const [type, fn] of Object.entries(value)) node.addEventListener(type, fn);
      else if (value === true) node.setAttribute(name, "");
      else node.setAttribute(name, String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function ago(iso) {
    if (!iso) return "";
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (seconds < 60) return seconds + " s ago";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h ago";
    return Math.floor(seconds / 86400) + " d ago";
  }

  function when(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return isNaN(date) ? String(iso) : date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }

  function bytes(size) {
    if (typeof size !== "number") return "";
    if (size < 1024) return size + " B";
    if (size < 1048576) return (size / 1024).toFixed(1) + " KiB";
    return (size / 1048576).toFixed(1) + " MiB";
  }

  function statusBadge(status) {
    return el("span", { class: "status status-" + status, "data-status": status, text: status });
  }

  function progressBar(view) {
    if (typeof view.progress !== "number") return null;
    const percent = Math.round(view.progress * 100);
    return el("progress", { max: "100", value: String(percent), "aria-label": "Progress " + percent + "%" });
  }

  // --- the API --------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function key() {
    return sessionStorage.getItem(KEY_ITEM);
  }

  async function call(method, path, body, presented) {
    const headers = { Authorization: "Bearer " + (presented || key() || "") };
    const init = { method, headers, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const answer = await fetch(API + path, init);
    const text = await answer.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (_) {
      data = null;
    }
    if (!answer.ok) {
      const message = (data && (data.error || data.message)) || answer.statusText || "request failed";
      throw new ApiError(answer.status, (data && data.code) || "", String(message));
    }
    return data;
  }

  function api(method, path, body) {
    return call(method, path, body).catch((error) => {
      if (error instanceof ApiError && error.status === 401) {
        signOut("Your key was refused; sign in again."); // revoked while the tab was open
      }
      throw error;
    });
  }

  // --- sign in / out ---------------------------------------------------------------------------------

  function signOut(message) {
    sessionStorage.removeItem(KEY_ITEM);
    stopPolling();
    generation += 1;
    document.getElementById("nav").hidden = true;
    document.getElementById("page").hidden = true;
    clear(document.getElementById("page"));
    document.getElementById("signin").hidden = false;
    document.getElementById("signin-error").textContent = message || "";
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    document.getElementById("key").focus();
  }

  async function signIn(event) {
    event.preventDefault(); // the key never travels as a form post or in a URL
    const input = document.getElementById("key");
    const error = document.getElementById("signin-error");
    const presented = input.value.trim();
    error.textContent = "";
    if (!presented) {
      error.textContent = "Enter your bridge API key.";
      return;
    }
    try {
      await call("GET", "/v1/usage", undefined, presented);
    } catch (failure) {
      error.textContent = failure instanceof ApiError && (failure.status === 401 || failure.status === 403)
        ? "That key was refused."
        : "Could not reach the bridge: " + failure.message;
      input.select();
      return;
    }
    input.value = "";
    sessionStorage.setItem(KEY_ITEM, presented);
    if (!location.hash || location.hash === "#") location.hash = "#/jobs"; // hashchange routes
    else route();
  }

  // --- navigation and polling ------------------------------------------------------------------------

  function stopPolling() {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  }

  function schedule(fn, delay) {
    stopPolling();
    const mine = generation;
    timer = setTimeout(function tick() {
      timer = null;
      if (mine !== generation) return;
      if (document.hidden) {
        document.addEventListener("visibilitychange", () => mine === generation && fn(), { once: true });
        return;
      }
      fn();
    }, delay);
  }

  function page(title) {
    const section = clear(document.getElementById("page"));
    section.hidden = false;
    document.getElementById("signin").hidden = true;
    document.title = title + " - runway-bridge console";
    section.append(el("h1", { id: "page-title", tabindex: "-1", text: title }));
    return section;
  }

  // A page the user went to: focus its title, so a screen reader says where they are and the next
  // Tab starts from the top of the new content.
  function navigate() {
    route();
    const title = document.getElementById("page-title");
    if (title && !document.getElementById("page").hidden) title.focus();
  }

  // The list redrawn in place (filters, paging): the control used is made anew, focus it again.
  function redraw() {
    const used = document.activeElement && document.activeElement.id;
    route();
    const again = used && document.getElementById(used);
    if (again) again.focus();
  }

  function route() {
    stopPolling();
    generation += 1;
    if (!key()) {
      signOut("");
      return;
    }
    document.getElementById("nav").hidden = false;
    const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    const name = parts[0] || "jobs";
    for (const link of document.querySelectorAll("#nav a")) {
      if (link.dataset.page === name) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    if (name === "jobs" && parts[1]) jobPage(parts[1]);
    else if (name === "webhooks") webhooksPage();
    else if (name === "usage") usagePage();
    else jobsPage();
  }

  function showError(container, error) {
    clear(container).append(el("p", { class: "error", role: "alert", text: error.message || String(error) }));
  }

  // --- jobs ---------------------------------------------------------------------------------------------

  const listState = { filters: {}, cursors: [null] };

  function jobsPage() {
    const section = page("Jobs");
    const mine = generation;
    const filters = listState.filters;
    const statusSelect = el("select", { id: "filter-status", name: "status" },
      el("option", { value: "", text: "any" }),
      STATUSES.map((status) => el("option", { value: status, selected: filters.status === status, text: status })));
    const field = (id, label, input) => el("div", {}, el("label", { for: id, text: label }), input);
    const form = el("form", { class: "filters", id: "filters", role: "search" },
      field("filter-status", "Status", statusSelect),
      field("filter-operation", "Operation",
        el("input", { id: "filter-operation", name: "operation", value: filters.operation || "" })),
      field("filter-model", "Model", el("input", { id: "filter-model", name: "model", value: filters.model || "" })),
      field("filter-reference", "Reference",
        el("input", { id: "filter-reference", name: "reference", value: filters.reference || "" })),
      el("button", { type: "submit", id: "apply-filters", text: "Apply filters" }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const data = new FormData(form);
      listState.filters = {};
      for (const name of ["status", "operation", "model", "reference"]) {
        const value = String(data.get(name) || "").trim();
        if (value) listState.filters[name] = value;
      }
      listState.cursors = [null];
      redraw();
    });
    const body = el("tbody", { id: "jobs-body" });
    const table = el("table", { class: "responsive", id: "jobs" },
      el("caption", { class: "visually-hidden", text: "Your jobs, newest first" }),
      el("thead", {}, el("tr", {}, ["Job", "Status", "Operation", "Model", "Reference", "Age"].map(
        (title) => el("th", { scope: "col", text: title })))),
      body);
    const note = el("p", { id: "jobs-note", class: "result" });
    const previous = el("button", { type: "button", class: "secondary", id: "page-previous", text: "Previous page" });
    const next = el("button", { type: "button", class: "secondary", id: "page-next", text: "Next page" });
    const position = el("span", { id: "page-position" });
    section.append(form, el("div", { class: "table-wrap" }, table), note, el("div", { class: "pager" }, previous, position, next));

    let nextCursor = null;
    previous.addEventListener("click", () => {
      if (listState.cursors.length > 1) listState.cursors.pop();
      redraw();
    });
    next.addEventListener("click", () => {
      if (nextCursor) listState.cursors.push(nextCursor);
      redraw();
    });

    async function load() {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE), ...listState.filters });
      const cursor = listState.cursors[listState.cursors.length - 1];
      if (cursor) query.set("cursor", cursor);
      let result;
      try {
        result = await api("GET", "/v1/tasks?" + query.toString());
      } catch (error) {
        if (mine !== generation) return;
        note.textContent = "Could not load the jobs: " + error.message;
        schedule(load, SLOW_MS);
        return;
      }
      if (mine !== generation) return;
      const jobs = (result && result.data) || [];
      nextCursor = result && result.nextCursor ? result.nextCursor : null;
      clear(body);
      for (const view of jobs) body.append(jobRow(view));
      note.textContent = jobs.length ? "" : "No jobs" + (Object.keys(listState.filters).length ? " match these filters." : " yet.");
      previous.disabled = listState.cursors.length <= 1;
      next.disabled = !nextCursor;
      position.textContent = "Page " + listState.cursors.length;
      const live = jobs.some((view) => UNFINISHED.has(realStatus(view)));
      schedule(load, live ? FAST_MS : SLOW_MS);
    }
    load();
  }

  function realStatus(view) {
    return (view.bridge && view.bridge.status) || view.status;
  }

  function jobRow(view) {
    const bridge = view.bridge || {};
    const status = realStatus(view);
    const cell = (label, ...content) => el("td", { "data-label": label }, ...content);
    return el("tr", { "data-job-id": view.id, "data-status": status },
      cell("Job", el("a", { href: "#/jobs/" + encodeURIComponent(view.id), class: "mono", text: view.id })),
      cell("Status", statusBadge(status), progressBar(view)),
      cell("Operation", bridge.operation || ""),
      cell("Model", bridge.model || ""),
      el("td", { "data-label": "Reference", class: "reference", text: bridge.reference || "" }),
      el("td", { "data-label": "Age", title: when(view.createdAt), text: ago(view.createdAt) }));
  }

  // --- one job ------------------------------------------------------------------------------------------

  function jobPage(jobId) {
    const section = page("Job " + jobId);
    const mine = generation;
    const summary = el("div", { id: "job-summary" });
    const failure = el("div", { id: "job-failure" });
    const timeline = el("div", { id: "job-timeline" });
    const outputs = el("div", { id: "job-outputs" });
    const attempts = el("div", { id: "job-attempts" });
    const actionNote = el("p", { id: "redeliver-result", class: "result", role: "status" });
    const redeliver = el("button", { type: "button", id: "redeliver", text: "Redeliver the last webhook" });
    let outputsKey = null;
    let fastUntil = 0;

    redeliver.addEventListener("click", async () => {
      redeliver.disabled = true;
      actionNote.textContent = "Redelivering…";
      try {
        const answer = await api("POST", "/v1/tasks/" + encodeURIComponent(jobId) + "/webhook/redeliver");
        actionNote.textContent = "Redelivery queued: " + (answer.type || "") + " (event " + (answer.eventId || "") + ")";
        fastUntil = Date.now() + 60000;
        schedule(load, 500);
      } catch (error) {
        actionNote.textContent = "Not redelivered: " + error.message;
      } finally {
        redeliver.disabled = false;
      }
    });

    section.append(
      el("p", {}, el("a", { href: "#/jobs", text: "← All jobs" })),
      summary, failure,
      el("h2", { text: "Timeline" }), timeline,
      el("h2", { text: "Outputs" }), outputs,
      el("h2", { text: "Webhook attempts" }), el("div", { class: "actions" }, redeliver), actionNote, attempts);

    async function load() {
      let view;
      try {
        view = await api("GET", "/v1/tasks/" + encodeURIComponent(jobId));
      } catch (error) {
        if (mine !== generation) return;
        if (error instanceof ApiError && error.status === 404) {
          clear(summary).append(el("p", { class: "error", role: "alert", id: "job-missing", text: "No such job." }));
          return;
        }
        showError(summary, error);
        schedule(load, SLOW_MS);
        return;
      }
      if (mine !== generation) return;
      renderJob(view);
      const live = UNFINISHED.has(realStatus(view)) || Date.now() < fastUntil;
      schedule(load, live ? FAST_MS : SLOW_MS);
    }

    function renderJob(view) {
      const bridge = view.bridge || {};
      const status = realStatus(view);
      const facts = [
        ["Status", [statusBadge(status), progressBar(view)]],
        ["Operation", bridge.operation],
        ["Model", bridge.model],
        ["Reference", bridge.reference],
        ["Created", when(view.createdAt || bridge.createdAt)],
        ["Updated", when(bridge.updatedAt)],
        ["Runway task", bridge.runwayTaskId],
        ["Callback URL", bridge.callbackUrl],
      ];
      if (bridge.metadata) for (const [name, value] of Object.entries(bridge.metadata)) facts.push(["metadata." + name, value]);
      const list = el("dl", { class: "facts" });
      for (const [name, value] of facts) {
        if (value === null || value === undefined || value === "") continue;
        list.append(el("dt", { text: name }), el("dd", { "data-fact": name }, value));
      }
      clear(summary).append(list);

      clear(failure);
      if (view.failure || view.failureCode) {
        failure.append(el("div", { class: "notice", role: "alert" },
          el("strong", { text: "Failed" + (view.failureCode ? " (" + view.failureCode + ")" : "") + ": " }),
          el("span", { id: "failure-message", text: view.failure || "" })));
      }

      clear(timeline);
      if (Array.isArray(bridge.timeline) && bridge.timeline.length) {
        timeline.append(el("ol", { class: "timeline", id: "timeline" }, bridge.timeline.map(timelineEntry)));
      } else {
        timeline.append(el("p", { text: "Created " + when(view.createdAt) + "; now " + status + "." }));
      }

      const shown = bridge.outputs || [];
      const keyOfOutputs = JSON.stringify(shown.map((output) => [output.index, output.sha256]));
      if (keyOfOutputs !== outputsKey) {
        outputsKey = keyOfOutputs; // a video element is made once: a poll never restarts playback
        clear(outputs);
        if (!shown.length) outputs.append(el("p", { text: UNFINISHED.has(status) ? "Not yet." : "None." }));
        for (const output of shown) outputs.append(outputBlock(output));
      }

      clear(attempts);
      const deliveries = bridge.webhookDeliveries || [];
      redeliver.hidden = !bridge.callbackUrl;
      if (!deliveries.length) {
        attempts.append(el("p", { text: bridge.callbackUrl ? "No attempt yet." : "This job has no callback URL." }));
      } else {
        const withExcerpt = deliveries.some((delivery) => "answerExcerpt" in delivery);
        const titles = ["Time", "Event", "Attempt", "Status", "Latency", "Outcome"];
        if (withExcerpt) titles.push("Answer");
        titles.push("Error");
        const rows = deliveries.map((delivery) => {
          const cells = [
            ["Time", when(delivery.at)],
            ["Event", delivery.type],
            ["Attempt", delivery.attempt],
            ["Status", delivery.statusCode === null || delivery.statusCode === undefined ? "no answer" : delivery.statusCode],
            ["Latency", typeof delivery.latencyMs === "number" ? delivery.latencyMs + " ms" : ""],
            ["Outcome", delivery.outcome],
          ];
          if (withExcerpt) cells.push(["Answer", delivery.answerExcerpt || ""]);
          cells.push(["Error", delivery.error || ""]);
          return el("tr", { "data-event-id": delivery.eventId },
            cells.map(([label, value]) => el("td", { "data-label": label, class: label === "Answer" ? "excerpt" : null, text: value })));
        });
        attempts.append(el("div", { class: "table-wrap" }, el("table", { class: "responsive", id: "attempts" },
          el("thead", {}, el("tr", {}, titles.map((title) => el("th", { scope: "col", text: title })))),
          el("tbody", {}, rows))));
      }
    }
    load();
  }

  function timelineEntry(entry) {
    const parts = [when(entry.at), entry.kind ? entry.kind.replace(/_/g, " ") : ""];
    if (entry.status) parts.push(entry.status);
    if (entry.eventType) parts.push(entry.eventType);
    if (entry.attempt !== null && entry.attempt !== undefined) parts.push("attempt " + entry.attempt);
    if (entry.detail) parts.push(entry.detail);
    return el("li", { "data-kind": entry.kind || "", text: parts.filter((part) => part !== "").join(" · ") });
  }

  function outputBlock(output) {
    const source = output.link || output.url;
    const type = output.contentType || "";
    const media = type.startsWith("audio/")
      ? el("audio", { controls: true, preload: "auto", src: source })
      : el("video", { controls: true, preload: "auto", playsinline: true, muted: true, src: source,
        "aria-label": "Output " + output.index });
    const facts = el("dl", { class: "facts" },
      el("dt", { text: "Size" }), el("dd", { "data-fact": "size", "data-bytes": output.size, text: bytes(output.size) + " (" + output.size + " bytes)" }),
      el("dt", { text: "SHA-256" }), el("dd", { class: "mono", "data-fact": "sha256", text: output.sha256 || "" }),
      el("dt", { text: "Type" }), el("dd", { text: type }),
      el("dt", { text: "Stored at" }), el("dd", { class: "mono", text: output.s3Uri || "" }));
    if (output.linkExpiresAt) facts.append(el("dt", { text: "Link valid until" }), el("dd", { text: when(output.linkExpiresAt) }));
    return el("div", { class: "output", "data-output": output.index },
      media, facts, el("p", {}, el("a", { href: source, rel: "noreferrer", text: output.link ? "Stable link" : "Download (short-lived link)" })));
  }

  // --- webhooks -----------------------------------------------------------------------------------------

  function webhooksPage() {
    const section = page("Webhooks");
    const mine = generation;

    const secretValue = el("code", { id: "secret-value", class: "secret", hidden: true });
    const secretNote = el("p", { id: "secret-note", class: "result", role: "status" });
    const reveal = el("button", { type: "button", id: "reveal-secret", "aria-controls": "secret-value", text: "Reveal the signing secret" });
    const rotate = el("button", { type: "button", class: "secondary", id: "rotate-secret", text: "Rotate the secret" });
    reveal.addEventListener("click", async () => {
      if (!secretValue.hidden) {
        secretValue.hidden = true;
        secretValue.textContent = "";
        reveal.textContent = "Reveal the signing secret";
        return;
      }
      try {
        const answer = await api("GET", "/v1/webhooks/secret");
        secretValue.textContent = answer.secret;
        secretValue.hidden = false;
        reveal.textContent = "Hide the secret";
        secretNote.textContent = "";
      } catch (error) {
        secretNote.textContent = "Could not read the secret: " + error.message;
      }
    });
    rotate.addEventListener("click", async () => {
      rotate.disabled = true;
      try {
        const answer = await api("POST", "/v1/webhooks/secret/rotate");
        secretValue.textContent = answer.secret;
        secretValue.hidden = false;
        reveal.textContent = "Hide the secret";
        secretNote.textContent = "Rotated. The previous secret still verifies for " + answer.previousValidForSeconds + " s.";
      } catch (error) {
        secretNote.textContent = "Not rotated: " + error.message;
      } finally {
        rotate.disabled = false;
      }
    });

    const urlInput = el("input", { id: "test-url", name: "url", type: "url", required: true, placeholder: "https://example.com/hooks/runway" });
    const testResult = el("div", { id: "test-result", class: "result", role: "status" });
    const testForm = el("form", { id: "test-form" },
      el("label", { for: "test-url", text: "Receiver URL" }), urlInput, " ",
      el("button", { type: "submit", text: "Send a test event" }), testResult);
    testForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      clear(testResult).append("Sending…");
      try {
        const answer = await api("POST", "/v1/webhooks/test", { url: urlInput.value.trim() });
        const facts = el("dl", { class: "facts" },
          el("dt", { text: "Delivered" }), el("dd", { "data-fact": "delivered", text: answer.delivered ? "yes" : "no" }),
          el("dt", { text: "Answer status" }), el("dd", { "data-fact": "statusCode", text: answer.statusCode === null || answer.statusCode === undefined ? "no answer" : answer.statusCode }),
          el("dt", { text: "Latency" }), el("dd", { text: (answer.latencyMs === undefined ? "" : answer.latencyMs + " ms") }));
        if (answer.error) facts.append(el("dt", { text: "Error" }), el("dd", { text: answer.error }));
        clear(testResult).append(facts);
      } catch (error) {
        clear(testResult).append(el("p", { class: "error", text: "Not sent: " + error.message }));
      }
    });

    const letters = el("div", { id: "dead-letters" });
    const redriveNote = el("p", { id: "redrive-result", class: "result", role: "status" });
    const redrive = el("button", { type: "button", id: "redrive", text: "Redrive dead-lettered deliveries" });
    redrive.addEventListener("click", async () => {
      redrive.disabled = true;
      try {
        const answer = await api("POST", "/v1/webhooks/redrive");
        redriveNote.textContent = answer.redriven + " deliveries sent back to the queue.";
        loadLetters();
      } catch (error) {
        redriveNote.textContent = "Not redriven: " + error.message;
      } finally {
        redrive.disabled = false;
      }
    });

    async function loadLetters() {
      let answer;
      try {
        answer = await api("GET", "/v1/webhooks/dead-letters");
      } catch (error) {
        if (mine !== generation) return;
        const absent = error instanceof ApiError && (error.status === 404 || error.code === "not_found");
        clear(letters).append(el("p", { text: absent
          ? "This bridge does not list dead letters; redrive still works."
          : "Could not list the dead letters: " + error.message }));
        return;
      }
      if (mine !== generation) return;
      const data = (answer && answer.data) || [];
      clear(letters);
      if (!data.length) {
        letters.append(el("p", { text: "No dead-lettered delivery." }));
        return;
      }
      letters.append(el("div", { class: "table-wrap" }, el("table", { class: "responsive", id: "letters" },
        el("thead", {}, el("tr", {}, ["Dead-lettered", "Job", "Event", "Reason"].map((title) => el("th", { scope: "col", text: title })))),
        el("tbody", {}, data.map((letter) => el("tr", { "data-event-id": letter.eventId },
          el("td", { "data-label": "Dead-lettered", text: when(letter.deadLetteredAt) }),
          el("td", { "data-label": "Job" }, el("a", { href: "#/jobs/" + encodeURIComponent(letter.jobId || ""), class: "mono", text: letter.jobId || "" })),
          el("td", { "data-label": "Event", text: letter.type || "" }),
          el("td", { "data-label": "Reason", text: letter.reason || "" })))))));
    }

    section.append(
      el("h2", { text: "Signing secret" }),
      el("p", { text: "Your receivers verify each webhook's signature with this secret." }),
      el("div", { class: "actions" }, reveal, rotate), secretValue, secretNote,
      el("h2", { text: "Test event" }),
      el("p", { text: "Sends one signed test event to the URL and shows the receiver's answer." }),
      testForm,
      el("h2", { text: "Dead-lettered deliveries" }),
      letters, el("div", { class: "actions" }, redrive), redriveNote);
    loadLetters();
  }

  // --- usage ---------------------------------------------------------------------------------------------

  function usagePage() {
    const section = page("Usage");
    const mine = generation;
    const body = el("div", { id: "usage" });
    section.append(body);

    async function load() {
      let usage;
      try {
        usage = await api("GET", "/v1/usage");
      } catch (error) {
        if (mine === generation) showError(body, error);
        return;
      }
      if (mine !== generation) return;
      const limits = usage.limits || {};
      const today = usage.today || {};
      const limitText = (value) => (value === null || value === undefined ? "no limit" : String(value));
      const rows = [
        ["In flight", usage.inFlight, limits.maxInFlight],
        ["Queued in the bridge", usage.queued, null],
        ["Jobs today", today.jobs, limits.maxJobsPerDay],
        ["Output seconds today", today.outputSeconds, limits.maxOutputSecondsPerDay],
        ["Credits today", today.credits, limits.maxCreditsPerDay],
      ];
      clear(body).append(
        el("p", {}, "Tenant ", el("strong", { id: "usage-tenant", text: usage.tenantId || "" }),
          "; day " + (usage.day || "") + ", resets " + when(usage.resetsAt) + "."),
        el("div", { class: "table-wrap" }, el("table", { id: "usage-table" },
          el("thead", {}, el("tr", {}, ["Counter", "Used", "Limit"].map((title) => el("th", { scope: "col", text: title })))),
          el("tbody", {}, rows.map(([name, used, limit]) => {
            const bar = typeof limit === "number" && limit > 0 && typeof used === "number"
              ? el("progress", { max: String(limit), value: String(Math.min(used, limit)), "aria-label": name + " against its limit" })
              : null;
            return el("tr", { "data-counter": name },
              el("th", { scope: "row", text: name }),
              el("td", {}, String(used === undefined ? "" : used), bar),
              el("td", { text: name.startsWith("Queued") ? "" : limitText(limit) }));
          })))));
      schedule(load, SLOW_MS);
    }
    load();
  }

  // --- start ---------------------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("signin-form").addEventListener("submit", signIn);
    document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
    window.addEventListener("hashchange", navigate);
    route();
  });
})();
