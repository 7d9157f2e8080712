"""The records benchmark's results: timings, met/missed per target with the ratio the issue defines (new p99
over today's), and the section of bench/RESULTS.md. Used by bench/records_bench.py."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.records_data import LIVE_DAYS

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "RESULTS.md"
SECTION = "## Records (bench/records_bench.py)"


@dataclass
class Timing:
    name: str
    ms: list[float] = field(default_factory=list)
    rows: int = 0
    note: str = ""
    stall_ms: float | None = None

    def pct(self, p: float) -> float:
        s = sorted(self.ms)
        return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] if s else float("nan")


@dataclass
class StoreResult:
    name: str
    timings: list[Timing]
    bytes_per_record: float
    size_note: str
    complete: str
    move_rate: float = 0.0


def _ratio(x: float) -> str:
    return f"{x:.2f}x" if x >= 0.01 else f"{x:.4f}x"  # a hundredfold and more: keep the digits that say how much


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


SAMPLE_ROWS = ("the week's sample: GET of a drawn week", "the week's sample: GET after its pool changed",
               "the week's sample: the draw")
TARGETS = {**dict.fromkeys(SAMPLE_ROWS, 100.0), "QA report, a quarter": 1000.0, "CSV export, a month": None}


def write_results(results: list[StoreResult], facts: dict[str, Any], load: float) -> str:
    lines = [SECTION, "", f"Run {time.strftime('%Y-%m-%d %H:%M')} on {platform.machine()}, {os.cpu_count()} cores "
             f"(shared with other work; load average {load:.1f} before the run). {facts['records']:,} call records "
             f"over {facts['days']:g} days written through CallRecorder/RecordWriter ({facts['generate_s']:.0f} s), "
             f"{facts['scores']:,} QA scores, {facts['audit']:,} audit entries. Latencies are of the dashboard's "
             "read functions called in-process (today's: bench/records_baseline.py; new: dashboard/call_list.py, "
             "sampling.py, score_store.py, the CSV rows), p50/p99 over repeated calls. The quarter's report of "
             "the new store also computes the KPI per agent and the calls per category over the quarter's calls "
             "(today's store had the score averages only).", "",
             "| store | size per record | filter agent=1001 & queue=complaints, limit 1000 | move rate |",
             "| --- | --- | --- | --- |"]
    for s in results:
        lines.append(f"| {s.name} | {s.bytes_per_record / 1024:.2f} KB ({s.size_note}) | {s.complete} | "
                     f"{f'{s.move_rate:,.0f} records/s' if s.move_rate else '-'} |")
    lines += ["", f"Redis of the new store once the live TTL ({LIVE_DAYS} days) has run out for older calls: "
              f"{facts['new_redis_bytes'] / 2**20:.0f} MiB for the {facts['live_records']:,} calls of the last "
              f"{LIVE_DAYS} days, {facts['new_redis_per_record']:.0f} bytes per record kept "
              f"({facts['new_redis_per_record'] / results[0].bytes_per_record:.1%} of today's), and it depends on "
              f"the calls of {LIVE_DAYS} days only, not on how many days are kept. "
              f"(Simulated: records older than {LIVE_DAYS} days deleted as their shortened TTL would.)", "",
              "| request | " + " | ".join(f"{s.name} p50 / p99 ms" for s in results)
              + " | target | new vs today (p99) |",
              "| --- | " + " | ".join("---" for _ in results) + " | --- | --- |"]
    for i, t in enumerate(results[0].timings):
        cells = []
        for s in results:
            x = s.timings[i]
            stall = f", loop stalled {x.stall_ms:.0f} ms" if x.stall_ms is not None else ""
            cells.append(f"{x.pct(50):.1f} / {x.pct(99):.1f} ({x.rows:,} rows{stall})")
        limit = TARGETS.get(t.name, 50.0)
        new = results[1:]
        if limit is None:
            target = "none set"
        else:
            target = f"p99 <= {limit:g}: " + ", ".join(f"{s.name.split()[0]} {verdict(s.timings[i].pct(99) <= limit)}"
                                                        for s in new)
        if t.name in SAMPLE_ROWS:
            target += "; never blocking: " + ", ".join(
                f"{s.name.split()[0]} {verdict((s.timings[i].stall_ms or 0) <= 50)}" for s in new)
        ratio = ", ".join(_ratio(s.timings[i].pct(99) / t.pct(99)) for s in new)
        note = f" ({t.note})" if t.note else ""
        lines.append(f"| {t.name}{note} | " + " | ".join(cells) + f" | {target} | {ratio} |")
    lines += ["", "A page of the new store is a keyset page (every match, page by page); today's list read at "
              "most 5,000 records and filtered them in Python, so its filtered lists were incomplete. "
              "\"loop stalled\" is the longest the event loop did not run while the request ran (a wallboard "
              "request in the same process waits that long; \"never blocking\" counts as met up to 50 ms, what "
              "a 2-core machine under load adds anyway); the new store's queries run in worker threads. The week's "
              "sample: a GET of a drawn week (/api/samples/<week>: the stored sample and its re-draw check, which "
              "is answered from the last check while the pool's fingerprint, count and newest move read from its "
              "index, is unchanged), the same GET after a call of the week changed (the check redone: the whole "
              "pool read and drawn again), and the draw of a week not drawn yet (each call another week). The "
              "SQLite database has the planner statistics the records mover leaves (ANALYZE after its first move "
              "and hourly).", ""]
    return "\n".join(lines)


def save_section(text_: str) -> None:
    old_text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    start = old_text.find(SECTION)
    if start >= 0:
        nxt = old_text.find("\n## ", start + len(SECTION))
        old_text = old_text[:start] + (old_text[nxt + 1:] if nxt >= 0 else "")
    RESULTS.write_text(old_text.rstrip() + "\n\n" + text_, encoding="utf-8")


