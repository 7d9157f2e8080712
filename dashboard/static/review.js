// Review page: highlight the transcript line being played, click a line to seek, pick channels.
"use strict";
(function () {
  const audio = document.getElementById("player");
  const box = document.getElementById("transcript");
  if (!audio) return;
  const lines = box ? Array.from(box.querySelectorAll(".line")) : [];
  let active = null;

  function lineAt(t) {
    let found = null;
    for (const ln of lines) {
      if (Number(ln.dataset.start) <= t && t < Number(ln.dataset.end) + 0.05) found = ln;
    }
    return found;
  }

  function highlight() {
    const ln = lineAt(audio.currentTime);
    if (ln === active) return;
    if (active) active.classList.remove("active");
    active = ln;
    if (ln) {
      ln.classList.add("active");
      ln.scrollIntoView({ block: "nearest" });
    }
  }

  audio.addEventListener("timeupdate", highlight);
  audio.addEventListener("seeked", highlight);
  for (const ln of lines) {
    ln.addEventListener("click", () => {
      audio.currentTime = Number(ln.dataset.start);
      audio.play().catch(() => {});
    });
  }

  // Web Audio only once asked for: it needs a user gesture, and plain playback must not depend on it.
  let gains = null;
  function route(choice) {
    if (!gains) {
      const ctx = new AudioContext();
      const src = ctx.createMediaElementSource(audio);
      const split = ctx.createChannelSplitter(2);
      const merge = ctx.createChannelMerger(2);
      gains = [ctx.createGain(), ctx.createGain()];
      src.connect(split);
      split.connect(gains[0], 0);
      split.connect(gains[1], 1);
      for (const g of gains) { g.connect(merge, 0, 0); g.connect(merge, 0, 1); }
      merge.connect(ctx.destination);
    }
    gains[0].gain.value = choice === "right" ? 0 : 1;
    gains[1].gain.value = choice === "left" ? 0 : 1;
  }
  const sel = document.getElementById("channels");
  if (sel) sel.addEventListener("change", () => route(sel.value));
})();
