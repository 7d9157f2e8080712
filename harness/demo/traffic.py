"""The live demo's callers: one SIPp process per call (its own session), at most `max_callers` at
once (two CPU cores also run Asterisk, the service and Vosk), each reported as it ends.

A call that ends is read back from its record (the outcome written by the flow, the agent and the
rings written by the AMI listener) in a small thread pool, so a slow record never stalls arrivals.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from harness.calls import call_record
from harness.demo.behaviours import BY_NAME, Behaviour, Timings, caller_number, pick, steps
from harness.demo.processes import Child, Processes
from harness.demo.report import line
from harness.scenarios import caller_scenario
from harness.sipp import caller_command
from ivr import keys

CALL_TIMEOUT_S = 240


@dataclass
class LiveCall:
    caller: str
    behaviour: Behaviour
    clock: str  # demo time it arrived; when it ended once it did
    child: Child


class Traffic:
    def __init__(self, target: str, redis_url: str, work: Path, procs: Processes, timings: Timings,
                 speech: Path, say: Callable[[str], None], *, max_callers: int = 14, seed: int = 7) -> None:
        self.target, self.redis_url, self.work, self.procs = target, redis_url, work, procs
        self.timings, self.speech, self.say = timings, speech, say
        self.max_callers = max_callers
        self.rng = random.Random(seed)
        self.active: list[LiveCall] = []
        self.placed = 0
        self.skipped = 0  # arrivals while max_callers were on the line (said in the summary)
        self.ended: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="demo-report")

    @property
    def full(self) -> bool:
        return len(self.active) >= self.max_callers

    def arrive(self, clock: str, behaviour: str | None = None, speech: Path | None = None) -> LiveCall | None:
        """A new caller now (a random behaviour unless given); None when the line is full."""
        if self.full:
            self.skipped += 1
            return None
        b = BY_NAME[behaviour] if behaviour else pick(self.rng)
        caller = caller_number(self.rng)
        self.placed += 1
        d = self.work / "calls" / f"{self.placed:04d}-{b.name}"
        d.mkdir(parents=True, exist_ok=True)
        scenario = d / "caller.xml"
        scenario.write_text(caller_scenario(steps(b.name, self.timings, self.rng, speech or self.speech), d),
                            encoding="ISO-8859-1")
        inf = d / "callers.csv"
        inf.write_text(f"SEQUENTIAL\n{caller};\n")
        cmd = caller_command(self.target, "hotline", scenario, inf, calls=1, rate=1, limit=1,
                             timeout_s=CALL_TIMEOUT_S, recv_timeout_ms=CALL_TIMEOUT_S * 1000)
        child = self.procs.spawn(f"caller {caller}", cmd, log=d / "sipp.log", cwd=d)
        call = LiveCall(caller, b, clock, child)
        self.active.append(call)
        return call

    def poll(self, clock: str) -> None:
        """Report the calls whose SIPp ended (`clock`: the demo time now, printed on their line)."""
        still = []
        for call in self.active:
            if call.child.proc.poll() is None:
                still.append(call)
            else:
                call.clock = clock
                self._pool.submit(self._report, call)
        self.active = still
        self.procs.reap("caller ")

    def _report(self, call: LiveCall) -> None:
        rec = call_record(self.redis_url, call.caller, timeout=10)
        if rec is None:
            rec = {"caller": call.caller, "outcome": "no record"}
        self.say(line(call.clock, rec, call.behaviour.story))
        with self._lock:
            self.ended.append(rec)

    def stop(self) -> None:
        """Hang up everyone still on the line (their SIPp is killed) and finish the reports."""
        for call in self.active:
            self.procs.stop(call.child, timeout=3)
        self.active.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)


def all_records(redis_url: str) -> list[dict[str, Any]]:
    """Every call record in Redis with its events (the summary counts these)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        out = []
        for call_id in client.zrange(keys.CALLS_INDEX, 0, -1):
            raw: dict[str, str] = client.hgetall(keys.call(str(call_id)))  # type: ignore[assignment]
            rec: dict[str, Any] = {k: json.loads(v) for k, v in raw.items()}
            rec["call_id"] = str(call_id)
            rec["events"] = [json.loads(e) for e in client.lrange(keys.call_events(str(call_id)), 0, -1)]
            out.append(rec)
        return out
    finally:
        client.close()


