// Score form: the weighted total (weights and scales from the inputs' data-*) shown live, before submit.
// Same formula as dashboard/scoring.py weighted_total: sum of (value - min) / (max - min) * weight.
"use strict";
(function () {
  const form = document.getElementById("score-form");
  const out = document.getElementById("score-total");
  const note = document.getElementById("score-total-note");
  if (!form || !out) return;
  const inputs = Array.from(form.querySelectorAll("input[data-weight]"));

  function update() {
    let total = 0;
    const missing = [];
    const outside = [];
    for (const input of inputs) {
      const min = Number(input.dataset.min);
      const max = Number(input.dataset.max);
      const raw = input.value.trim();
      const value = Number(raw);
      const ok = raw !== "" && Number.isInteger(value) && value >= min && value <= max;
      input.setCustomValidity(raw === "" || ok ? "" : `a whole number ${min}-${max}`);
      if (raw === "") missing.push(input.name);
      else if (!ok) outside.push(input.name);
      else total += ((value - min) / (max - min)) * Number(input.dataset.weight);
    }
    out.value = missing.length || outside.length ? "–" : (Math.round((total + 1e-9) * 10) / 10).toFixed(1);
    note.textContent = outside.length ? "a value is outside its scale"
      : missing.length ? `${missing.length} KPI(s) still to score` : "";
  }

  form.addEventListener("input", update);
  update();
})();
