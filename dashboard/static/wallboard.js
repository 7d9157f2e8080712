// Live wallboard: applies each server-sent snapshot to the cards; redraws trends every minute.
"use strict";
(function () {
  const root = document.getElementById("wallboard");
  if (!root) return;
  const status = document.getElementById("live-status");
  const pct = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(1) + "%");
  const mmss = (s) => Math.floor(s / 60) + ":" + String(Math.floor(s % 60)).padStart(2, "0");

  function fields(q) {
    const over = Object.entries(q.overflow || {}).map(([r, n]) => r + ": " + n).join(" ") || "none";
    return {
      "waiting": q.waiting, "longest_wait": mmss(q.longest_wait_s),
      "agents.available": q.agents.available, "agents.ringing": q.agents.ringing,
      "agents.on_call": q.agents.on_call, "agents.paused": q.agents.paused,
      "service_level_pct": pct(q.service_level_pct), "offered": q.offered, "answered": q.answered,
      "abandoned": q.abandoned, "abandon_pct": pct(q.abandon_pct),
      "callbacks_pending": q.callbacks_pending, "overflow": over,
    };
  }

  function apply(board) {
    if (board.error) { status.textContent = board.error; return; }
    const names = board.queues.map((q) => q.name).join(",");
    if (names !== root.dataset.queues) { window.location.reload(); return; }
    for (const q of board.queues) {
      const card = root.querySelector('[data-q="' + CSS.escape(q.name) + '"]');
      if (!card) continue;
      for (const [f, v] of Object.entries(fields(q))) {
        const el = card.querySelector('[data-f="' + f + '"]');
        if (el && el.textContent !== String(v)) el.textContent = String(v);
      }
    }
    const peak = document.getElementById("peak");
    peak.textContent = board.peak ? "on" : "off";
    peak.classList.toggle("on", board.peak);
    const banner = document.getElementById("incident-banner");
    banner.hidden = !board.incident;
    if (board.incident) {
      document.getElementById("incident-text").textContent =
        ": " + Object.values(board.incident.text).join(" / ") + " — recovery " + board.incident.recovery;
    }
    document.getElementById("errors").textContent = (board.errors || []).join("\n");
    status.textContent = "live, updated " + new Date(board.at * 1000).toLocaleTimeString();
    root.dataset.updated = String(board.at);
  }

  const source = new EventSource("/wallboard/stream");
  source.onmessage = (ev) => apply(JSON.parse(ev.data));
  source.onerror = () => { status.textContent = "reconnecting…"; };

  async function trends() {
    const resp = await fetch("/wallboard/trends", { credentials: "same-origin" });
    if (resp.ok) document.getElementById("trends").innerHTML = await resp.text();
  }
  trends();
  setInterval(trends, 60000);
})();
