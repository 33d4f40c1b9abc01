// The pipeline page: polls /views/pipeline/ and renders it. Every figure cell carries
// data-topic and data-field, so a test can compare the page with the JSON.
"use strict";

const FIELDS = [
  ["target", (r) => r.target, "text"],
  ["subscription", (r) => r.subscriptions.join(", ") || "missing", "text"],
  ["lag", (r) => r.lag],
  ["rate", (r) => r.ratePerSecond],
  ["in", (r) => r.window && r.window.recordsIn],
  ["ok", (r) => r.window && r.window.resultsOk],
  ["failed", (r) => r.window && r.window.resultsFailed],
  ["dlq", (r) => r.window && r.window.dlq],
  ["p50", (r) => r.window && r.window.latencyMs.p50],
  ["p90", (r) => r.window && r.window.latencyMs.p90],
  ["p99", (r) => r.window && r.window.latencyMs.p99],
  ["dlqSize", (r) => r.dlqSize],
  ["retrying", (r) => r.retrying],
  ["paused", (r) => r.paused],
];

// A link may choose the window: /pipeline/?window=10
let windowSeconds = Number(new URLSearchParams(location.search).get("window")) || null;
let timer = null;

function text(value) {
  return value === null || value === undefined ? "–" : String(value);
}

function cell(tr, value, cls, attrs) {
  const td = document.createElement("td");
  td.textContent = text(value);
  if (cls) td.className = cls;
  for (const [k, v] of Object.entries(attrs || {})) td.setAttribute(k, v);
  tr.appendChild(td);
}

function renderTopics(view) {
  const body = document.querySelector("#topics tbody");
  body.replaceChildren();
  for (const row of view.rows) {
    const tr = document.createElement("tr");
    tr.dataset.topic = row.topic;
    if (row.window) tr.dataset.windowStart = row.window.start;
    if (row.dlqSize || row.retrying || row.paused) tr.className = "alert";
    else if (!row.window || !row.window.recordsIn) tr.className = "idle";
    cell(tr, row.topic, "text", { "data-topic": row.topic, "data-field": "topic" });
    for (const [field, pick, cls] of FIELDS) {
      cell(tr, pick(row), cls, { "data-topic": row.topic, "data-field": field });
    }
    body.appendChild(tr);
  }
}

function renderInvocations(view) {
  const body = document.querySelector("#invocations tbody");
  body.replaceChildren();
  for (const inv of view.invocations) {
    const tr = document.createElement("tr");
    for (const v of [inv.id, inv.target, inv.key, inv.status]) cell(tr, v, "text");
    cell(tr, inv.retryCount);
    cell(tr, inv.lastFailure, "text");
    body.appendChild(tr);
  }
}

function renderAlerts(view) {
  const body = document.querySelector("#alerts tbody");
  body.replaceChildren();
  for (const a of view.alerts) {
    const tr = document.createElement("tr");
    cell(tr, a.userId, "text");
    cell(tr, new Date(a.windowStart).toLocaleTimeString(), "text");
    cell(tr, a.depositCount);
    cell(tr, a.depositSum);
    cell(tr, a.breached.join(" + "), "text");
    body.appendChild(tr);
  }
}

function renderWindowChoice(view) {
  const select = document.getElementById("window");
  if (select.options.length) return;
  for (const size of view.windowSizes) {
    const option = document.createElement("option");
    option.value = size;
    option.textContent = size + " s";
    option.selected = size === view.windowSeconds;
    select.appendChild(option);
  }
  select.addEventListener("change", () => { windowSeconds = Number(select.value); refresh(); });
}

function render(view) {
  renderWindowChoice(view);
  renderTopics(view);
  renderInvocations(view);
  renderAlerts(view);
  const status = document.getElementById("status");
  status.dataset.generatedAt = view.generatedAt;
  status.dataset.windowSeconds = view.windowSeconds;
  status.textContent = "updated " + new Date(view.generatedAt).toLocaleTimeString() +
    ", refreshing every " + view.refreshMs / 1000 + " s";
  document.getElementById("window-note").textContent =
    "Figures of the last closed " + view.windowSeconds + " s window; lag, DLQ size and invocations are live.";
  const problems = document.getElementById("problems");
  problems.hidden = view.problems.length === 0;
  problems.textContent = view.problems.join("; ");
}

async function refresh() {
  clearTimeout(timer);
  let delay = 2000;
  try {
    const query = windowSeconds ? "?window=" + windowSeconds : "";
    const response = await fetch("/views/pipeline/" + query, { cache: "no-store" });
    const view = await response.json();
    if (!response.ok) throw new Error(view.error || response.statusText);
    windowSeconds = view.windowSeconds;
    delay = view.refreshMs;
    render(view);
  } catch (err) {
    const problems = document.getElementById("problems");
    problems.hidden = false;
    problems.textContent = "streams worker not answering: " + err.message;
  }
  timer = setTimeout(refresh, delay);
}

refresh();
