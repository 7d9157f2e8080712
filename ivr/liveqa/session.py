"""One live call: its two legs' AudioSocket streams, each decoded and matched as it arrives.

Each leg has a reader (frames off the socket into a queue, so the socket is always drained and
Asterisk never blocks on us) and a decoder (chunks of CHUNK_S into its recognizer on the shared
thread pool, the result into the leg's matcher, hits out as alerts). Audio waiting in the queue
is the leg's lag; beyond `max_lag_s` the call stops streaming (the pool is saturated: live QA
degrades to post-call QA for this call; the call itself is untouched).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from ivr.liveqa.alerts import Alert
from ivr.liveqa.audiosocket import AudioStream
from ivr.liveqa.matcher import Hit, Leg, LegMatcher, LiveRules
from ivr.liveqa.recognizer import RATE, RecognizerPool

log = logging.getLogger(__name__)
CHUNK_S = 0.1  # fed to Vosk at a time: a partial result per 100 ms of audio
AlertSink = Callable[[Alert], Awaitable[None]]


class Lagging(RuntimeError):
    """Recognition fell too far behind the call."""


@dataclass(frozen=True)
class CallInfo:
    call_id: str  # the caller channel's Uniqueid: the call record's id
    queue: str
    agent: str
    agent_channel: str
    caller_channel: str

    def channel(self, leg: Leg) -> str:
        return self.agent_channel if leg == "agent" else self.caller_channel


class LiveCall:
    def __init__(self, info: CallInfo, rules: dict[Leg, LiveRules], pool: RecognizerPool, executor: Executor,
                 sink: AlertSink, max_lag_s: float, clock: Callable[[], float] = time.time) -> None:
        self.info, self.rules, self.pool, self.executor = info, rules, pool, executor
        self.sink, self.max_lag_s, self.clock = sink, max_lag_s, clock
        self.connected: dict[Leg, asyncio.Event] = {leg: asyncio.Event() for leg in rules}
        self.ended: dict[Leg, asyncio.Event] = {leg: asyncio.Event() for leg in rules}
        self.stop_reason = ""  # set: every leg stops at its next chunk
        self.alerts: list[Alert] = []
        self.seconds: dict[Leg, float] = {}
        self.started: dict[Leg, float] = {}  # epoch seconds of each leg's first sample
        self._queues: dict[Leg, asyncio.Queue[bytes | None]] = {}

    def stop(self, reason: str) -> None:
        """Every leg ends at its next chunk, or at once if it is waiting for audio (a silent leg)."""
        self.stop_reason = self.stop_reason or reason
        for queue in self._queues.values():
            queue.put_nowait(None)

    async def done(self) -> None:
        await asyncio.gather(*(e.wait() for e in self.ended.values()))

    async def stream(self, leg: Leg, audio: AudioStream) -> None:
        """Decode one leg until it ends (hangup, stop, lag); raises what broke the stream."""
        self.connected[leg].set()
        try:
            await self._decode(leg, audio)
        except Lagging as exc:  # the pool is saturated: this call degrades to post-call QA
            log.warning("live QA: %s; streaming stopped", exc)
        finally:
            self.ended[leg].set()
            if leg == "agent":  # the agent left the call (hung up, transferred): nothing left to check
                self.stop("agent left")

    async def _decode(self, leg: Leg, audio: AudioStream) -> None:
        loop = asyncio.get_running_loop()
        rec = await loop.run_in_executor(self.executor, self.pool.take)
        matcher = LegMatcher(leg, self.rules[leg])
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._queues[leg] = queue
        reader = asyncio.create_task(self._read(leg, audio, queue), name=f"liveqa-read-{leg}")
        try:
            carry = bytearray()
            while not self.stop_reason:
                chunk, ended = await _next_chunk(queue, carry)
                if queue.qsize() * 0.02 > self.max_lag_s:  # frames are 20 ms
                    self.stop("lag")
                    raise Lagging(f"call {self.info.call_id} {leg}: recognition {queue.qsize() * 0.02:.1f} s behind")
                if chunk:
                    result, final = await loop.run_in_executor(self.executor, rec.accept, chunk)
                    hits = matcher.feed(result, final, rec.seconds) + matcher.clock(rec.seconds)
                    await self._emit(hits, self.started[leg], rec.seconds)
                if ended:
                    break
            last = await loop.run_in_executor(self.executor, rec.finish)
            await self._emit(matcher.feed(last, True, rec.seconds), self.started.get(leg, self.clock()), rec.seconds)
        except BaseException:
            rec.drop()
            raise
        finally:
            self.seconds[leg] = rec.seconds
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        if reader.done() and not reader.cancelled() and (exc := reader.exception()) is not None:
            raise exc

    async def _read(self, leg: Leg, audio: AudioStream, queue: asyncio.Queue[bytes | None]) -> None:
        try:
            while (pcm := await audio.next_audio()) is not None:
                # The leg's clock starts with its first sample: when that frame began, not when it arrived.
                self.started.setdefault(leg, self.clock() - len(pcm) / 2 / RATE)
                queue.put_nowait(pcm)
        finally:
            queue.put_nowait(None)

    async def _emit(self, hits: list[Hit], started: float, decoded_s: float) -> None:
        for hit in hits:
            alert = Alert.of(hit, self.info.call_id, self.info.queue, self.info.agent, started, self.clock(),
                             decoded_s)
            self.alerts.append(alert)
            log.warning("live QA: call %s agent %s: %s %r at %.1f s (%.2f s after it, decoding %.2f s behind)",
                        alert.call_id, alert.agent, alert.kind, alert.phrase, alert.t, alert.delay_s, alert.behind_s)
            await self.sink(alert)


async def _next_chunk(queue: asyncio.Queue[bytes | None], carry: bytearray) -> tuple[bytes, bool]:
    """Exactly CHUNK_S of audio (what is left at the end); True once the stream ended. The chunks
    fall on the same sample boundaries however the frames arrived (Vosk checks for an endpoint
    per chunk), so a leg decodes as harness.liveqa_audio.decode_like_live decodes it offline."""
    want = int(RATE * CHUNK_S) * 2
    while len(carry) < want:
        pcm = await queue.get()
        if pcm is None:
            chunk = bytes(carry)
            carry.clear()
            return chunk, True
        carry.extend(pcm)
    chunk = bytes(carry[:want])
    del carry[:want]
    return chunk, False

