"""Figures of the AGI benchmark: per-variant results, the markdown table, and the
"FastAGI vs classic AGI" section of bench/RESULTS.md (other sections are left as they are)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.load import StepResult
from bench.rig import LABELS, VARIANTS

SECTION = "FastAGI vs classic AGI"
# Commands that Asterisk answers at once: their round trip is the AGI path itself. STREAM FILE
# and GET DATA last as long as the audio and the caller's key press, whatever the AGI side does.
RTT_VERBS = ("ANSWER", "SET VARIABLE")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (as agi/stats.py computes it); 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def rtt_ms(step: StepResult, q: float, verbs: Sequence[str] = RTT_VERBS) -> float:
    return 1000 * percentile([s for v, s in step.samples if v in verbs], q)


@dataclass
class VariantSummary:
    variant: str
    best: StepResult | None = None       # the highest rate with 0 failed calls
    first_fail: StepResult | None = None  # the step that stopped the variant

    @property
    def rate(self) -> float:
        return self.best.rate if self.best else 0.0


@dataclass
class BenchReport:
    steps: list[StepResult]
    max_rate: float
    command: str
    date: str
    machine: str
    asterisk: str
    notes: list[str] = field(default_factory=list)
    patience_s: float = 4.0

    def summary(self, variant: str) -> VariantSummary:
        out = VariantSummary(variant)
        for step in sorted((s for s in self.steps if s.variant == variant), key=lambda s: s.rate):
            if step.failures:
                out.first_fail = step
                break
            out.best = step
        return out

    def common_rate(self) -> float:
        """The highest rate that every variant passed: RTTs compared at the same load."""
        return min((self.summary(v).rate for v in VARIANTS), default=0.0)

    def step(self, variant: str, rate: float) -> StepResult | None:
        return next((s for s in self.steps if s.variant == variant and s.rate == rate), None)

    def cpu_ms_per_call(self, variant: str, asterisk: bool = False) -> float:
        steps = [s for s in self.steps if s.variant == variant]
        calls = sum(s.calls for s in steps)
        cpu = sum(s.asterisk_cpu_s if asterisk else s.agi_cpu_s for s in steps)
        return 1000 * cpu / calls if calls else 0.0

    def markdown(self) -> str:
        common = self.common_rate()
        loads = [s.load_average for s in self.steps]
        lines = [
            f"Run {self.date} on {self.machine}, {self.asterisk}, SIPp on loopback. Command: `{self.command}`",
            "",
            "Dialogue (harness/agi_dialogue.py): ANSWER, STREAM FILE beep, GET DATA beep (1 digit, 5 s), SET VARIABLE, "
            f"STREAM FILE vm-goodbye. The caller presses 1 every 0.5 s for its first {self.patience_s:g} s after the "
            f"answer; a call fails if SIPp fails it (no answer within {self.patience_s:g} s included) or its dialplan "
            f"does not see AGISTATUS=SUCCESS with IVR_CHOICE=1 (a menu not listening within ~{self.patience_s:g} s). "
            "RTT = time from writing an AGI command to reading its "
            f"reply, measured inside each implementation, over {' + '.join(RTT_VERBS)} (the commands Asterisk "
            "answers at once; STREAM FILE and GET DATA last as long as the audio). CPU = CPU time of the AGI side "
            "per call: the server process for (a) and (c), the per-call script processes for (b). Rates step up, "
            "the variants interleaved at each rate; each variant stops at its first step with a failed call.",
            "",
            f"| variant | highest rate with 0 failed calls | p99 RTT at that rate | p99 RTT at {common:g}/s "
            "(all passed) | AGI CPU per call | Asterisk CPU per call | stopped by |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for v in VARIANTS:
            s = self.summary(v)
            stop = (f"{s.first_fail.failures}/{s.first_fail.calls} failed at {s.first_fail.rate:g}/s"
                    if s.first_fail else f"nothing: max rate {self.max_rate:g}/s reached")
            lines.append(
                f"| {LABELS[v]} | {s.rate:g} calls/s | {_ms(s.best)} | {_ms(self.step(v, common))} | "
                f"{self.cpu_ms_per_call(v):.1f} ms | {self.cpu_ms_per_call(v, asterisk=True):.1f} ms | {stop} |"
            )
        lines += ["", *self._verdicts(common)]
        if loads:
            lines.append(f"- machine load (1-min load average at step starts): {min(loads):.1f} to {max(loads):.1f}")
        lines += [*(f"- {n}" for n in self.notes), "", *self._steps_table()]
        return "\n".join(lines) + "\n"

    def _verdicts(self, common: float) -> list[str]:
        a, b, c = (self.summary(v) for v in VARIANTS)
        capped = a.first_fail is None and c.first_fail is None
        out = [
            f"- rate (a)/(b) = {_ratio(a.rate, b.rate)}: target >= 2 "
            f"{'met' if b.rate and a.rate >= 2 * b.rate else 'MISSED'}",
            f"- rate (a)/(c) = {_ratio(a.rate, c.rate)}: target >= 0.9 "
            + ("met" if c.rate and a.rate >= 0.9 * c.rate else "MISSED")
            + (f" (both passed every rate up to {self.max_rate:g}/s: the ceiling was not reached)" if capped else ""),
        ]
        for rate, what in ((common, "all three passed"), (min(a.rate, c.rate), "the highest (a) and (c) passed")):
            sa, sb, sc = (self.step(v, rate) for v in VARIANTS)
            if sa and sc:
                vs_b = f"p99 RTT (a)/(b) = {_ratio(rtt_ms(sa, 99), rtt_ms(sb, 99))}, " if sb else ""
                out.append(f"- at {rate:g}/s ({what}): {vs_b}p99 RTT (a)/(c) = "
                           f"{_ratio(rtt_ms(sa, 99), rtt_ms(sc, 99))}, p50 RTT (a)/(c) = "
                           f"{_ratio(rtt_ms(sa, 50), rtt_ms(sc, 50))}")
        cpu = {v: self.cpu_ms_per_call(v) for v in VARIANTS}
        out.append(f"- AGI CPU per call (a)/(c) = {_ratio(cpu['fastagi'], cpu['floor'])}, "
                   f"(b)/(a) = {_ratio(cpu['classic'], cpu['fastagi'])}")
        total = {v: cpu[v] + self.cpu_ms_per_call(v, asterisk=True) for v in VARIANTS}
        out.append(
            f"- CPU per call, Asterisk + AGI side: (a) {total['fastagi']:.1f} ms, (b) {total['classic']:.1f} ms, "
            f"(c) {total['floor']:.1f} ms: per call the whole system works {_ratio(total['fastagi'], total['floor'])}"
            f"x as hard with (a) as with (c), {_ratio(total['classic'], total['fastagi'])}x as hard with (b) "
            "as with (a); on 2 cores that, not the AGI round trip, sets the highest rate"
        )
        return out

    def _steps_table(self) -> list[str]:
        rates = sorted({s.rate for s in self.steps})
        head = ("| calls/s | load | "
                + " | ".join(f"{LABELS[v]}: ok/calls, RTT p50/p99 ms" for v in VARIANTS) + " |")
        lines = ["Every step:", "", head, "| ---: | ---: |" + " --- |" * len(VARIANTS)]
        for r in rates:
            cells, load = [], 0.0
            for v in VARIANTS:
                s = self.step(v, r)
                if s is None:
                    cells.append("-")
                    continue
                load = max(load, s.load_average)
                cells.append(f"{s.calls - s.failures}/{s.calls}, {rtt_ms(s, 50):.2f}/{rtt_ms(s, 99):.2f}"
                             + (f" ({s.note})" if s.note else ""))
            lines.append(f"| {r:g} | {load:.1f} | " + " | ".join(cells) + " |")
        return lines


def _ms(step: StepResult | None) -> str:
    return "-" if step is None else f"{rtt_ms(step, 99):.2f} ms"


def _ratio(x: float, y: float) -> str:
    return f"{x / y:.2f}" if y else "n/a"


def write_section(path: Path, body: str, title: str = SECTION) -> None:
    """Replace (or append) the `## title` section of a markdown file, leaving the others alone."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    block = f"## {title}\n\n{body.rstrip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: block + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + block
    path.write_text(text, encoding="utf-8")
