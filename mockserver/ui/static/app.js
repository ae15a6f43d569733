// The mockserver dashboard. Every read and every action is a call to the control API (/__mock/...);
// the page keeps no state of its own beyond what it last read. It refreshes when the server says
// (`poll_after_ms` of GET /__mock/jobs) and at once after each of its own actions.
"use strict";

const TOKEN_KEY = "mockserver-admin-token";
const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  view: "jobs",
  jobId: null,
  owners: new Map(), // owner fingerprint -> label (the masked key where the server knows it)
  timer: null,
  mediaFor: null, // the job whose media elements are loaded (they are not reloaded on each refresh)
  openJournal: new Set(), // journal rows expanded
  ticking: false,
};

// -- the control API -------------------------------------------------------------------------

class ControlError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error ? body.error.code : null;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, cache: "no-store", body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!response.ok) throw new ControlError(response.status, data);
  return data;
}

function query(params) {
  const pairs = Object.entries(params).filter(([, v]) => v !== "" && v !== null && v !== undefined);
  return pairs.length ? "?" + new URLSearchParams(pairs).toString() : "";
}

// -- small helpers ---------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function clock(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  return new Date(seconds * 1000).toISOString().slice(11, 19);
}

function stamp(seconds) {
  return new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

function relative(at, now) {
  const d = Math.round(at - now);
  if (Math.abs(d) < 1) return "now";
  return d > 0 ? `in ${d}s` : `${-d}s ago`;
}

function ownerLabel(owner, key) {
  if (key) return key;
  if (!owner || owner === "anonymous") return owner || "–";
  return `key ${owner.slice(0, 8)}…`;
}

function badge(status, phase) {
  return el("span", { class: `badge ${phase || status}`, dataset: { status } }, status);
}

function notice(message, kind) {
  const box = $("notice");
  box.textContent = message;
  box.className = `notice ${kind || "error"}`;
  box.hidden = !message;
}

// -- the token -------------------------------------------------------------------------------

function takeTokenFromFragment() {
  // `#token=...` (optionally `#token=...&/jobs`): kept in this tab only, then removed from the URL.
  const hash = location.hash.replace(/^#/, "");
  const match = hash.match(/(?:^|&)token=([^&]*)/);
  if (!match) return;
  state.token = decodeURIComponent(match[1]);
  sessionStorage.setItem(TOKEN_KEY, state.token);
  const rest = hash.replace(match[0], "").replace(/^&/, "");
  history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : "#/jobs"));
}

function showLogin(message) {
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== "view-login";
  $("clockbar").hidden = true;
  $("login-error").textContent = message || "";
}

// -- routing ---------------------------------------------------------------------------------

function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [view, id] = hash.split("/");
  state.view = ["jobs", "journal", "controls", "webhooks"].includes(view) ? view : "jobs";
  state.jobId = view === "jobs" && id ? decodeURIComponent(id) : null;
  const shown = state.jobId ? "view-job" : `view-${state.view}`;
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== shown;
  for (const tab of document.querySelectorAll("#tabs a")) tab.classList.toggle("active", tab.dataset.view === state.view);
  $("clockbar").hidden = false;
  if (!state.jobId) state.mediaFor = null;
  refresh();
}

// -- refreshing ------------------------------------------------------------------------------

async function refresh() {
  clearTimeout(state.timer);
  if (state.ticking) { state.again = true; return; }
  state.ticking = true;
  let wait = 2000;
  try {
    const jobs = await api("GET", "/__mock/jobs" + query({
      owner: $("filter-owner").value, status: $("filter-status").value, limit: 200,
    }));
    wait = jobs.poll_after_ms;
    renderClock(jobs.clock);
    for (const job of jobs.data) rememberOwner(job.owner, job.key);
    if (state.jobId) await renderJob(state.jobId);
    else if (state.view === "jobs") renderJobs(jobs);
    else if (state.view === "journal") await renderJournal();
    else if (state.view === "controls") await renderControls();
    else if (state.view === "webhooks") await renderWebhooks();
    notice("");
  } catch (error) {
    if (error instanceof ControlError && error.status === 401) {
      state.ticking = false;
      showLogin(state.token ? error.message : "");
      return;
    }
    notice(error.message || String(error));
  }
  state.ticking = false;
  if (state.again) { state.again = false; wait = 0; }
  state.timer = setTimeout(refresh, wait);
}

function rememberOwner(owner, key) {
  if (!owner || owner === "anonymous") return;
  const known = state.owners.get(owner);
  if (known && (known.startsWith("key ") === false || !key)) return;
  state.owners.set(owner, ownerLabel(owner, key));
  for (const select of [$("filter-owner"), $("journal-owner"), ...document.querySelectorAll(".owner-select")]) {
    const existing = [...select.options].find((o) => o.value === owner);
    if (existing) existing.textContent = state.owners.get(owner);
    else select.append(el("option", { value: owner }, state.owners.get(owner)));
  }
}

function knownOwner(owner) {
  return state.owners.get(owner) || ownerLabel(owner, null);
}

function renderClock(c) {
  $("clock-now").textContent = stamp(c.now);
  const label = c.frozen ? "frozen" : c.speed === 1 && Math.abs(c.offset) < 0.5 ? "real time" : `×${c.speed}` + (c.offset ? `, ${c.offset >= 0 ? "+" : ""}${Math.round(c.offset)}s` : "");
  $("clock-state").textContent = label;
  $("clock-state").className = `pill ${c.frozen ? "frozen" : "running"}`;
  $("clock-freeze").textContent = c.frozen ? "Unfreeze" : "Freeze";
  $("clock-freeze").dataset.frozen = c.frozen ? "1" : "";
}

// -- jobs ------------------------------------------------------------------------------------

function renderJobs(jobs) {
  $("jobs-count").textContent = `${jobs.data.length}${jobs.has_more ? "+" : ""} shown, ${jobs.total} in the store`;
  $("jobs-empty").hidden = jobs.data.length > 0;
  $("jobs-table").hidden = jobs.data.length === 0;
  fill($("jobs-body"), jobs.data.map((job) => el("tr", { dataset: { jobId: job.id, status: job.status } },
    el("td", {}, el("a", { href: `#/jobs/${encodeURIComponent(job.id)}`, class: "mono" }, job.id)),
    el("td", { class: "mono", title: `owner ${job.owner}` }, ownerLabel(job.owner, job.key)),
    el("td", {}, job.model),
    el("td", {}, job.size),
    el("td", { class: "num" }, job.seconds),
    el("td", { class: "status" }, badge(job.status, job.phase)),
    el("td", {}, el("progress", { max: 100, value: job.progress }), el("span", { class: "muted pct" }, ` ${job.progress}%`)),
    el("td", { title: stamp(job.created_at) }, clock(job.created_at)),
    el("td", { title: job.completed_at ? stamp(job.completed_at) : "" }, job.completed_at ? clock(job.completed_at) : relativeFinish(job, jobs.now)),
    el("td", { class: job.outcome === "completed" ? "" : "warn" }, job.outcome),
  )));
}

function relativeFinish(job, now) {
  if (job.phase === "failed") return "–";
  return el("span", { class: "muted" }, relative(job.finished_at, now));
}

// -- one job ---------------------------------------------------------------------------------

async function renderJob(id) {
  let detail;
  try {
    detail = await api("GET", `/__mock/jobs/${encodeURIComponent(id)}`);
  } catch (error) {
    if (error instanceof ControlError && error.status === 404) {
      $("job-id").textContent = id;
      $("job-details").replaceChildren(el("p", { class: "empty" }, "This job is gone (deleted, or the server was reset)."));
      return;
    }
    throw error;
  }
  const job = detail.job;
  $("job-id").textContent = job.id;
  $("job-status").replaceWith(Object.assign(badge(job.status, job.phase), { id: "job-status" }));
  $("job-progress").value = job.progress;
  $("job-progress-text").textContent = `${job.progress}%`;
  const details = [
    ["key", ownerLabel(job.owner, job.key)], ["owner", job.owner], ["model", job.model], ["size", job.size],
    ["seconds", job.seconds], ["prompt", job.prompt || "–"], ["scripted outcome", job.outcome],
    ["error", job.error ? `${job.error.code}: ${job.error.message}` : null],
    ["remixed from", job.remixed_from_video_id],
  ].filter(([, v]) => v !== null && v !== undefined);
  $("job-details").replaceChildren(...details.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  $("job-timeline").replaceChildren(...detail.timeline.map((step) => el("li", { class: step.reached ? "reached" : "planned" },
    el("span", { class: "when", title: stamp(step.at) }, clock(step.at)),
    el("span", { class: "what" }, badge(step.status, step.event === "finished" ? job.phase : step.status)),
    el("span", { class: "muted" }, ` ${step.event} · ${relative(step.at, detail.now)}`),
  )));
  $("job-json").textContent = JSON.stringify(detail.video, null, 2);
  renderMedia(job, detail.media);
  const requests = await api("GET", "/__mock/journal" + query({ path: `*/videos/${job.id}*`, limit: 50 }));
  const none = el("tr", {}, el("td", { colspan: 6, class: "muted" }, "No poll or download of this job journaled yet."));
  fill($("job-requests"), requests.data.length === 0 ? [none] : requests.data.slice().reverse().map((entry) => el("tr", {},
    el("td", { class: "num" }, entry.seq), el("td", {}, clock(entry.time)), el("td", {}, entry.method),
    el("td", { class: "mono" }, entry.path + querySuffix(entry.query)), el("td", {}, statusCell(entry.status)),
    el("td", {}, entry.fault || ""),
  )));
}

function renderMedia(job, media) {
  const ready = media.video;
  $("job-media").hidden = !ready;
  $("job-media-pending").hidden = !!ready;
  if (!ready || state.mediaFor === job.id) return;
  state.mediaFor = job.id;
  const video = $("job-video");
  video.onloadedmetadata = () => {
    $("job-video-info").textContent = `${video.videoWidth}×${video.videoHeight}, ${video.duration.toFixed(1)} s (the job asked for ${job.seconds} s)`;
  };
  video.src = media.video;
  $("job-thumbnail").src = media.thumbnail;
  $("job-spritesheet").src = media.spritesheet;
}

function querySuffix(q) {
  const pairs = Object.entries(q || {}).flatMap(([k, vs]) => vs.map((v) => [k, v]));
  return pairs.length ? "?" + new URLSearchParams(pairs).toString() : "";
}

function statusCell(status) {
  return el("span", { class: `code c${String(status)[0]}` }, status === 0 ? "no answer" : status);
}

// -- journal ---------------------------------------------------------------------------------

async function renderJournal() {
  const data = await api("GET", "/__mock/journal" + query({
    method: $("journal-method").value, path: $("journal-path").value.trim(),
    status: $("journal-status").value.trim(), owner: $("journal-owner").value, limit: 300,
  }));
  $("journal-count").textContent = `${data.data.length} shown (keeps the newest ${data.size})`;
  $("journal-empty").hidden = data.data.length > 0;
  const rows = [];
  for (const entry of data.data.slice().reverse()) {
    rememberOwner(entry.owner, entry.key);
    const open = state.openJournal.has(entry.seq);
    rows.push(el("tr", { class: "clickable", dataset: { seq: entry.seq }, onclick: () => toggleJournal(entry.seq) },
      el("td", { class: "num" }, entry.seq), el("td", { title: stamp(entry.time) }, clock(entry.time)),
      el("td", {}, entry.method), el("td", { class: "mono" }, entry.path + querySuffix(entry.query)),
      el("td", {}, statusCell(entry.status)),
      el("td", { class: "num" }, entry.latency_ms === undefined || entry.latency_ms === null ? "–" : `${entry.latency_ms.toFixed(1)} ms`),
      el("td", { class: "mono" }, ownerLabel(entry.owner, entry.key)), el("td", { class: entry.fault ? "warn" : "" }, entry.fault || ""),
    ));
    if (open) {
      const shown = { query: entry.query, headers: entry.headers, body: entry.body, uploads: entry.uploads, request_id: entry.request_id, virtual_time: entry.virtual_time };
      rows.push(el("tr", { class: "expanded" }, el("td", { colspan: 8 }, el("pre", {}, JSON.stringify(shown, null, 2)))));
    }
  }
  fill($("journal-body"), rows);
}

function toggleJournal(seq) {
  if (state.openJournal.has(seq)) state.openJournal.delete(seq);
  else state.openJournal.add(seq);
  refresh();
}

// -- faults and outcomes ---------------------------------------------------------------------

async function renderControls() {
  const [faults, outcomes] = await Promise.all([api("GET", "/__mock/faults"), api("GET", "/__mock/outcomes")]);
  $("faults-empty").hidden = faults.faults.length > 0;
  fill($("faults-body"), faults.faults.map((rule) => el("tr", { dataset: { faultId: rule.id } },
    el("td", { class: "mono" }, rule.id), el("td", {}, rule.method), el("td", { class: "mono" }, rule.path),
    el("td", {}, rule.status ?? (rule.rate_limit ? `rate ${rule.rate_limit.requests}/${rule.rate_limit.seconds}s` : "–")),
    el("td", {}, rule.times ?? "always"), el("td", {}, rule.latency_ms ? `${rule.latency_ms} ms` : ""),
    el("td", {}, rule.probability), el("td", { class: "mono" }, rule.owner ? knownOwner(rule.owner) : "every key"),
    el("td", {}, el("button", { type: "button", class: "small", onclick: () => act("DELETE", `/__mock/faults/${encodeURIComponent(rule.id)}`) }, "Remove")),
  )));
  const rows = [];
  const add = (queue, list) => list.forEach((script, i) => rows.push(el("tr", {},
    el("td", { class: "mono" }, queue), el("td", { class: "num" }, i + 1), el("td", {}, script.outcome ?? "(model's)"),
    el("td", {}, script.duration === null ? "model's" : `${script.duration} s`))));
  add("every key", outcomes.shared);
  for (const [owner, list] of Object.entries(outcomes.by_owner)) add(knownOwner(owner), list);
  $("outcomes-empty").hidden = rows.length > 0;
  fill($("outcomes-body"), rows);
}

// -- webhooks --------------------------------------------------------------------------------

async function renderWebhooks() {
  const [endpoints, deliveries] = await Promise.all([api("GET", "/__mock/webhooks"), api("GET", "/__mock/webhooks/deliveries")]);
  $("endpoints-empty").hidden = endpoints.data.length > 0;
  fill($("endpoints-body"), endpoints.data.map((e) => el("tr", {},
    el("td", { class: "mono" }, e.id), el("td", { class: "mono" }, e.url), el("td", { class: "mono" }, e.owner ? knownOwner(e.owner) : "every key"),
    el("td", {}, e.source), el("td", {}, e.max_attempts), el("td", {}, `${e.backoff_seconds} s`),
    el("td", { class: "mono", title: "the signing secret" }, e.secret.slice(0, 10) + "…"),
    el("td", {}, el("button", { type: "button", class: "small", onclick: () => act("DELETE", `/__mock/webhooks/${encodeURIComponent(e.id)}`) }, "Remove")),
  )));
  $("deliveries-empty").hidden = deliveries.data.length > 0;
  const rows = [];
  for (const d of deliveries.data.slice().reverse()) {
    rows.push(el("tr", {},
      el("td", { class: "mono" }, d.webhook_id + (d.copy === 2 ? " (copy 2)" : "")), el("td", {}, d.type),
      el("td", { class: "mono" }, el("a", { href: `#/jobs/${encodeURIComponent(d.video_id)}` }, d.video_id)),
      el("td", { class: "mono" }, d.endpoint), el("td", { class: d.fault ? "warn" : "" }, d.fault || ""),
      el("td", {}, badge(d.status, d.status === "delivered" ? "completed" : d.status === "failed" ? "failed" : "running")),
      el("td", {}, el("ol", { class: "attempts" }, d.attempts.map((a) => el("li", {},
        `${clock(a.at)} → `, a.status_code === null ? el("span", { class: "code c5" }, a.error || "no answer") : statusCell(a.status_code))))),
    ));
  }
  fill($("deliveries-body"), rows);
}

// -- actions ---------------------------------------------------------------------------------

async function act(method, path, body) {
  try {
    await api(method, path, body);
    notice("");
  } catch (error) {
    notice(error.message || String(error));
  }
  await refresh();
}

function number(id) {
  const raw = $(id).value.trim();
  return raw === "" ? null : Number(raw);
}

function wire() {
  $("clock-freeze").addEventListener("click", () =>
    act("POST", $("clock-freeze").dataset.frozen ? "/__mock/clock/unfreeze" : "/__mock/clock/freeze"));
  $("clock-advance-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act("POST", "/__mock/clock/advance", { seconds: number("clock-advance-seconds") ?? 0 });
  });
  $("clock-speed-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act("POST", "/__mock/clock/speed", { speed: number("clock-speed-value") ?? 1 });
  });
  $("clock-real").addEventListener("click", () => act("POST", "/__mock/clock/real"));
  $("reset").addEventListener("click", () => {
    if (confirm("Reset the server? Every job, the journal, queued outcomes and run-time faults go; the clock returns to real time.")) {
      act("POST", "/__mock/reset");
    }
  });
  $("fault-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const rule = { method: $("fault-method").value, path: $("fault-path").value.trim() || "*" };
    const status = $("fault-status").value;
    if (status) rule.status = Number(status);
    for (const [field, id] of [["times", "fault-times"], ["latency_ms", "fault-latency"], ["probability", "fault-probability"]]) {
      const value = number(id);
      if (value !== null) rule[field] = value;
    }
    if ($("fault-owner").value) rule.owner = $("fault-owner").value;
    act("POST", "/__mock/faults", rule);
  });
  $("faults-clear").addEventListener("click", () => act("DELETE", "/__mock/faults"));
  $("outcome-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { outcomes: [$("outcome-value").value] };
    const duration = number("outcome-duration");
    if (duration !== null) body.duration = duration;
    if ($("outcome-owner").value) body.owner = $("outcome-owner").value;
    act("POST", "/__mock/outcomes", body);
  });
  $("outcomes-clear").addEventListener("click", () => act("DELETE", "/__mock/outcomes"));
  $("journal-clear").addEventListener("click", () => act("DELETE", "/__mock/journal"));
  for (const id of ["filter-owner", "filter-status", "journal-method", "journal-owner"]) $(id).addEventListener("change", refresh);
  for (const id of ["journal-path", "journal-status"]) $(id).addEventListener("change", refresh);
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.token = $("login-token").value.trim();
    sessionStorage.setItem(TOKEN_KEY, state.token);
    route();
  });
  window.addEventListener("hashchange", () => { takeTokenFromFragment(); route(); });
}

async function serverInfo() {
  try {
    const health = await api("GET", "/__mock/health");
    $("server-info").textContent = `${health.version} · ${health.profile} · ${health.store}`;
  } catch (_) { /* shown by the next refresh */ }
}

takeTokenFromFragment();
wire();
serverInfo();
route();
