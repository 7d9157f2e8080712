// Live QA alerts: applies each server-sent list to the panel; Listen / Whisper ring the supervisor's phone.
"use strict";
(function () {
  const panel = document.getElementById("liveqa");
  if (!panel) return;
  const body = panel.querySelector("#liveqa-alerts tbody");
  const status = document.getElementById("liveqa-status");
  const csrf = document.body.dataset.csrf;
  const KINDS = { forbidden_phrase: "forbidden phrase", no_greeting: "no greeting" };
  const MODES = ["listen", "whisper"];

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function say(id, text) {
    for (const other of ["liveqa-result", "liveqa-error"]) document.getElementById(other).hidden = true;
    const el = document.getElementById(id);
    el.textContent = text;
    el.hidden = false;
  }

  async function act(alert, mode) {
    const resp = await fetch("/api/liveqa/alerts/" + encodeURIComponent(alert.id) + "/act", {
      method: "POST", credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify({ mode: mode }),
    });
    const data = await resp.json().catch(() => ({}));
    if (resp.ok) say("liveqa-result", data.result);
    else say("liveqa-error", data.detail || "failed: HTTP " + resp.status);
  }

  function row(alert) {
    const tr = document.createElement("tr");
    tr.className = "alert " + alert.kind;
    tr.dataset.alert = alert.id;
    tr.dataset.call = alert.call_id;
    tr.append(cell(new Date(alert.at * 1000).toLocaleTimeString()), cell(alert.queue), cell(alert.agent),
      cell(alert.call_id), cell(KINDS[alert.kind] || alert.kind), cell(alert.phrase));
    const buttons = document.createElement("td");
    for (const mode of MODES) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = mode;
      b.dataset.mode = mode;
      b.addEventListener("click", () => act(alert, mode));
      buttons.append(b);
    }
    tr.append(buttons);
    return tr;
  }

  function empty() {
    const tr = document.createElement("tr");
    const td = cell("No alert in the last hour.");
    tr.className = "none";
    td.colSpan = 7;
    td.className = "muted";
    tr.append(td);
    return tr;
  }

  function apply(snap) {
    if (snap.error) { status.textContent = snap.error; return; }
    const ids = snap.alerts.map((a) => a.id).join(",");
    if (ids !== panel.dataset.ids) {
      body.replaceChildren(...(snap.alerts.length ? snap.alerts.map(row) : [empty()]));
      panel.dataset.ids = ids;
    }
    status.textContent = "live";
    panel.dataset.count = String(snap.alerts.length);
  }

  const source = new EventSource("/liveqa/stream");
  source.onmessage = (ev) => apply(JSON.parse(ev.data));
  source.onerror = () => { status.textContent = "reconnecting…"; };
})();
