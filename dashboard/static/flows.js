// Flow editor: runs the flow checks while the admin types (nothing is saved) and lists the errors.
"use strict";
(function () {
  const area = document.getElementById("flow-text");
  const out = document.getElementById("live-issues");
  if (!area || !out) return;
  const csrf = document.body.dataset.csrf;
  let timer = null;
  async function check() {
    const resp = await fetch("/api/flows/" + encodeURIComponent(area.dataset.flow) + "/check", {
      method: "POST", credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify({ text: area.value }),
    });
    if (!resp.ok) { out.textContent = "check failed: HTTP " + resp.status; return; }
    const body = await resp.json();
    out.textContent = "";
    const errors = body.issues.filter((i) => i.severity === "error");
    if (errors.length === 0) { out.className = "ok"; out.textContent = "No errors."; return; }
    out.className = "error";
    const ul = document.createElement("ul");
    for (const i of errors) { const li = document.createElement("li"); li.textContent = i.text; ul.appendChild(li); }
    out.appendChild(ul);
  }
  area.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(check, 400); });
})();
