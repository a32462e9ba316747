// insite console: progressive behaviour only. Pages are complete HTML from the
// server; this file sends the console's forms to the REST API (with the CSRF
// token), shows progress of long work, and ties the audio player to the transcript.
"use strict";

function csrfOf(form) {
  const field = form.querySelector('input[name="csrf"]');
  return field ? field.value : "";
}

function say(form, text, isError) {
  let out = form.querySelector(".outcome");
  if (!out) {
    out = document.createElement("p");
    out.className = "outcome";
    form.appendChild(out);
  }
  out.setAttribute("role", isError ? "alert" : "status");
  out.classList.toggle("error", !!isError);
  out.textContent = text;
}

// Field values as the API's JSON: numbers and booleans typed, JSON text areas
// parsed, dotted names nested, empty optional fields left out.
function bodyOf(form) {
  const body = {};
  for (const el of form.elements) {
    if (!el.name || el.name === "csrf" || el.disabled) continue;
    let value;
    if (el.type === "checkbox") value = el.checked;
    else if (el.type === "radio") { if (!el.checked) continue; value = el.value; }
    else if (el.value === "" && !el.required) continue;
    else if (el.type === "number") value = Number(el.value);
    else if (el.dataset.json !== undefined) {
      // A one-line answer may be typed bare (yes, 4); a definition must be JSON.
      try { value = JSON.parse(el.value); } catch (e) { if (el.tagName === "TEXTAREA") throw e; value = el.value; }
    }
    else if (el.dataset.list !== undefined) value = el.value.split(",").map((s) => s.trim()).filter(Boolean);
    else value = el.value;
    const path = el.name.split(".");
    let at = body;
    while (path.length > 1) { const k = path.shift(); at = at[k] = at[k] || {}; }
    at[path[0]] = value;
  }
  return body;
}

async function problem(res) {
  try {
    const e = await res.json();
    return (e.error && (e.error.message + " (" + e.error.code + ")")) || ("HTTP " + res.status);
  } catch (_) {
    return "HTTP " + res.status;
  }
}

// After success: reload, go to a page (":id" from the answer), or show the answer.
function then(form, answer) {
  const next = form.dataset.then || "reload";
  if (next === "reload") { location.reload(); return; }
  if (next === "show") {
    const keep = form.dataset.show ? answer[form.dataset.show] : JSON.stringify(answer, null, 2);
    const out = form.querySelector(".answer") || form.appendChild(document.createElement("pre"));
    out.className = "answer";
    out.textContent = keep;
    say(form, form.dataset.done || "Done.");
    return;
  }
  if (next.startsWith("poll:")) {
    if (answer.jobs === 0) { say(form, "Nothing to re-score: every conversation in the period already has a result of this version."); return; }
    const id = answer[next.slice(5)];
    const bar = form.querySelector("[data-poll-template]");
    if (bar && id) {
      bar.dataset.poll = bar.dataset.pollTemplate.replace(":id", id);
      bar.hidden = false;
      poll(bar).then(() => { const l = form.querySelector(".preview-link"); if (l) l.hidden = false; });
    }
    say(form, form.dataset.done || "Started.");
    return;
  }
  location.assign(next.replace(":id", encodeURIComponent(answer.id || answer.conversation_id || "")));
}

async function submitApi(form) {
  if (form.dataset.confirm && !confirm(form.dataset.confirm)) return;
  // A preview scores the chosen conversation with this scorecard only.
  if (form.dataset.preview !== undefined) {
    const id = encodeURIComponent(form.querySelector("[data-target]").value);
    form.dataset.api = "/api/v1/conversations/" + id + "/analyze";
    form.dataset.then = "poll:job_id";
    form.querySelector(".preview-link a").href = "/console/conversations/" + id;
  }
  let body, headers = { "x-csrf-token": csrfOf(form) };
  if (form.dataset.upload !== undefined) {
    body = new FormData(form);
    body.delete("csrf");
    for (const [k, v] of Array.from(body.entries())) if (v === "") body.delete(k);
  } else {
    try { body = JSON.stringify(bodyOf(form)); } catch (e) { say(form, "Not valid JSON: " + e.message, true); return; }
    headers["content-type"] = "application/json";
  }
  const button = form.querySelector('button[type="submit"], button:not([type])');
  if (button) button.disabled = true;
  say(form, "Working…");
  try {
    const res = await fetch(form.dataset.api, { method: form.dataset.method || "POST", headers, body, credentials: "same-origin" });
    if (!res.ok) { say(form, await problem(res), true); return; }
    const answer = res.status === 204 ? {} : await res.json();
    then(form, answer);
  } catch (e) {
    say(form, "The server could not be reached: " + e.message, true);
  } finally {
    if (button) button.disabled = false;
  }
}

// A progress element that follows a job or batch until it ends, then reloads.
async function poll(el) {
  const url = el.dataset.poll;
  if (!url) return;
  const bar = el.querySelector("progress");
  const text = el.querySelector(".progress-text");
  for (;;) {
    let s;
    try {
      const res = await fetch(url, { credentials: "same-origin" });
      if (!res.ok) { text.textContent = await problem(res); return; }
      s = await res.json();
    } catch (e) { text.textContent = "lost contact with the server; retrying"; await new Promise((r) => setTimeout(r, 3000)); continue; }
    const job = s.job || s;
    let percent, label, over;
    if (s.finished !== undefined) {
      const st = s.states || {};
      percent = s.progress;
      label = (st.done || 0) + " of " + s.total + " re-scored" + (st.failed ? ", " + st.failed + " failed" : "") + " · " + percent + "%";
      over = s.finished;
    } else {
      percent = Math.round(job.progress || 0);
      label = job.state + (job.stage ? " · " + job.stage : "") + " · " + percent + "%";
      over = ["done", "failed", "cancelled"].includes(job.state);
      if (job.state === "failed" && job.error) label += " · " + (job.error.message || job.error);
    }
    if (bar) bar.value = percent;
    text.textContent = label;
    if (over) {
      el.dataset.state = "ended";
      if (el.dataset.reload !== undefined) location.reload();
      return;
    }
    await new Promise((r) => setTimeout(r, 1500));
  }
}

// The player and the transcript: a segment or a piece of evidence plays from its
// moment; the segment being heard is highlighted.
function wirePlayer() {
  const player = document.getElementById("player");
  if (!player) return;
  const segments = Array.from(document.querySelectorAll(".segment[data-start]"));
  const jump = (el) => {
    player.currentTime = Number(el.dataset.start);
    const p = player.play();
    if (p && p.catch) p.catch(() => {});
    mark(Number(el.dataset.start));
  };
  const mark = (t) => {
    for (const s of segments) {
      const on = t >= Number(s.dataset.start) && t < Number(s.dataset.end);
      s.classList.toggle("playing", on);
      if (on) s.setAttribute("aria-current", "true"); else s.removeAttribute("aria-current");
    }
  };
  for (const el of document.querySelectorAll("[data-start]")) {
    if (el === player) continue;
    el.addEventListener("click", (e) => { e.preventDefault(); jump(el); });
    el.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); jump(el); } });
  }
  player.addEventListener("timeupdate", () => mark(player.currentTime));
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-api]")) {
    form.addEventListener("submit", (e) => { e.preventDefault(); submitApi(form); });
  }
  for (const el of document.querySelectorAll("[data-poll]")) poll(el);
  for (const el of document.querySelectorAll("[data-go]")) {
    el.addEventListener("change", () => { if (el.value) location.assign(el.dataset.go.replace(":v", encodeURIComponent(el.value))); });
  }
  wirePlayer();
});
