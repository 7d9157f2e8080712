"""Post-call transcription beside the live QA bench (`bench/liveqa_bench.py --with-transcription`).

Real `ivr transcribe worker` processes on the bench's Redis, fed finished calls at the rate N
concurrent live calls finish them: N seconds of call audio per second (a call of d s every d/N s),
starting a little before the live calls so the workers are already busy when the level starts. The
calls are espeak-ng calls of the transcription bench's sentences (bench/transcribe_run.py), two
turns long so that a level of a minute sees several arrivals even at one live call; every job has
its own call id (hard links to the same legs), so each is transcribed afresh.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from bench.liveqa_combined import Backlog, Combined, FeedResult
from bench.liveqa_levels import Level
from bench.transcribe_run import EN, START, ZH, tree_cpu
from harness.speech import Turn, synth_call
from ivr import keys
from ivr.recording.paths import recording_paths
from ivr.settings import Settings
from ivr.transcribe.jobs import enqueue_transcription, queue

REPO = Path(__file__).resolve().parent.parent
LANGUAGE = "zh-CN"  # as the transcription bench queues its calls
TURNS = 2  # the agent, then the caller: ~14 s (Chinese) and ~7 s (English)
POLL_S = 0.25
START_TIMEOUT_S = 180.0
DRAIN_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Source:
    caller: Path
    agent: Path
    seconds: float


def make_sources(work: Path) -> list[Source]:
    """One Chinese and one English call of TURNS turns, the legs as MixMonitor writes them."""
    out = []
    for name, lines, voice in (("zh", ZH, "cmn"), ("en", EN, "en-us")):
        turns = [Turn("agent" if k % 2 == 0 else "caller", text, voice, pause_after=0.5)
                 for k, text in enumerate(lines[:TURNS])]
        made = synth_call(work, f"source-{name}", turns)
        out.append(Source(made.caller, made.agent, made.seconds))
    return out


@contextmanager
def workers(n: int, redis_url: str, root: Path, logs: Path) -> Iterator[list[int]]:
    """`n` workers (they inherit the bench's CPU affinity); yields their pids once all are registered."""
    env = {**os.environ, "IVR_REDIS_URL": redis_url, "IVR_RECORDINGS_DIR": str(root)}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(n):
            with (logs / f"worker{i}.log").open("wb") as log:
                cmd = [sys.executable, "-m", "ivr.cli.main", "transcribe", "worker", "--name", f"liveqa-bench-{i}"]
                procs.append(subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT))
        _wait_registered(redis.Redis.from_url(redis_url, socket_timeout=5), procs, logs)
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)


def _wait_registered(conn: redis.Redis, procs: list[subprocess.Popen[bytes]], logs: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while len(conn.smembers("rq:workers")) < len(procs):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise RuntimeError(f"transcription workers did not start; see worker*.log in {logs}")
        time.sleep(0.1)


class Feed:
    """Queues the finished calls and follows each job to its end (sync Redis: run in a thread)."""

    def __init__(self, conn: redis.Redis, settings: Settings, root: Path, sources: list[Source]) -> None:
        self.conn, self.settings, self.root, self.sources = conn, settings, root, sources
        self._ids = itertools.count()
        self.outstanding: dict[str, float] = {}  # call id -> its call audio, s
        self.failed: list[tuple[float, str]] = []  # (when noticed, call id)

    def lead_s(self, calls: int) -> float:
        """How long before the live calls the feed starts: an arrival, so the workers are busy by then."""
        return max(s.seconds for s in self.sources) / calls

    def enqueue(self, source: Source) -> None:
        call_id = f"liveqa-bench-t{next(self._ids)}"
        paths = recording_paths(self.root, call_id, START)
        paths.dir.mkdir(parents=True, exist_ok=True)
        os.link(source.caller, paths.caller)
        os.link(source.agent, paths.agent)
        self.conn.hset(keys.call(call_id), keys.CALL_RECORDING, json.dumps(paths.to_record()))
        enqueue_transcription(self.conn, call_id, LANGUAGE, self.settings)
        self.outstanding[call_id] = source.seconds

    def poll(self) -> None:
        ids = list(self.outstanding)
        pipe = self.conn.pipeline(transaction=False)
        for call_id in ids:
            pipe.hget(keys.call(call_id), keys.CALL_TRANSCRIPTION)
        for call_id, raw in zip(ids, pipe.execute(), strict=True):
            state = json.loads(raw)["state"] if raw else ""
            if state in ("done", "failed"):
                del self.outstanding[call_id]
            if state == "failed":
                self.failed.append((time.time(), call_id))

    def sample(self, k: int, source: Source) -> Backlog:
        self.poll()
        return Backlog(k=k, at=time.time(), audio_s=sum(self.outstanding.values()), jobs=len(self.outstanding),
                       waiting=queue(self.conn, self.settings).count, queued_s=source.seconds)

    async def run(self, calls: int, stop: asyncio.Event) -> list[Backlog]:
        """Until `stop`: just before each arrival, sample the backlog, then queue the next call."""
        samples: list[Backlog] = []
        due = time.monotonic()
        for k in itertools.count():
            source = self.sources[k % len(self.sources)]
            samples.append(await asyncio.to_thread(self.sample, k, source))
            await asyncio.to_thread(self.enqueue, source)
            due += source.seconds / calls
            try:
                await asyncio.wait_for(stop.wait(), max(0.0, due - time.monotonic()))
                break
            except TimeoutError:
                continue
        return samples

    async def drain(self) -> float:
        """Seconds until every queued call is transcribed; past DRAIN_TIMEOUT_S the rest is dropped."""
        started = time.monotonic()
        while self.outstanding and time.monotonic() - started < DRAIN_TIMEOUT_S:
            await asyncio.sleep(POLL_S)
            await asyncio.to_thread(self.poll)
        if self.outstanding:
            await asyncio.to_thread(queue(self.conn, self.settings).empty)
            self.outstanding.clear()
            return float("inf")
        return time.monotonic() - started


async def level_beside(level: Level, calls: int, feed: Feed, pids: list[int]) -> Combined:
    """One live QA level while the feed runs at its rate; then the backlog is drained."""
    stop = asyncio.Event()
    feeder = asyncio.create_task(feed.run(calls, stop))
    try:
        await asyncio.sleep(feed.lead_s(calls))
        cpu0, start = tree_cpu(pids), time.time()
        live = await level.run(calls)
        end, cpu = time.time(), tree_cpu(pids) - cpu0
    finally:
        stop.set()
        samples = await feeder
    result = FeedResult(calls=calls, start=start, end=end, samples=samples, period=len(feed.sources), cpu_s=cpu)
    result.drain_s = await feed.drain()
    # A job that failed during the level or its drain fails the level (earlier ones were before `start`).
    result.failed = sum(1 for at, _ in feed.failed if at >= start)
    return Combined(live, result)
