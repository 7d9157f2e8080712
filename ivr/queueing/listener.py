"""The AMI listener: Asterisk's queue events -> Redis live state, auto-pauses and call records.

One long-lived AMI connection (panoramisk). On every (re)connect a QueueStatus reply replaces the
live state, then events are fed in order to LiveReducer and applied with apply_ops (one MULTI per
event). Auto-pause orders from MissCounter become AgentControl.pause(reason). Answer timings, the
agent and every ring that went unanswered are written on the caller's call record. Asterisk not
reachable yet, or gone: we retry with a backoff; calls never wait on this.

The engine leaves Queue() on a timeout to announce position and estimate, then re-enters keeping
the caller's place. app_queue reports such a timeout as QueueCallerAbandon + QueueCallerLeave and the
re-entry as a new QueueCallerJoin; counted as is, one caller would be offered and abandoned several
times. `QueuePasses` (filled by the engine in the same process) says which passes were ours: the
timeout's abandon/leave are held until the engine re-enters (dropped: the caller is still waiting)
or says how the wait ended (a hangup or the queue timeout counts as abandoned; overflow, callback
and answer do not), and a re-entry is fed as a QueueEntry, which is not counted as offered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ivr import keys
from ivr.queueing.agents import AgentControl, AgentError
from ivr.queueing.ami import AmiError, connect_ami, send
from ivr.queueing.live import LiveReducer, Update
from ivr.queueing.misses import agent_from_interface
from ivr.queueing.model import QueueConfig
from ivr.queueing.pbx import ring_cycle
from ivr.settings import Settings
from ivr.state.ops import HSet, Op, RPush, apply_ops, dumps
from ivr.state.redis import RedisGetter
from ivr.state.writer import RecordWriter

log = logging.getLogger(__name__)
ABANDONING = frozenset({"hangup", "timeout"})  # how an engine wait ended that counts as abandoned
_RECORDED = {"agentcalled": "agent_called", "agentringnoanswer": "agent_missed", "agentconnect": "agent_connect"}


@dataclass
class Pass:
    queue: str
    timeout_s: float
    joins: int = 0
    first_join_at: float = 0.0
    finished: str | None = None
    finished_at: float = 0.0
    held: list[dict[str, str]] = field(default_factory=list)


class QueuePasses:
    """The engine's Queue() passes per caller uniqueid, shared with the listener (same process)."""

    KEEP_S = 120.0  # AMI events of a finished wait may trail the AGI reply

    def __init__(self) -> None:
        self._passes: dict[str, Pass] = {}
        self._released: list[Callable[[list[dict[str, str]]], None]] = []

    def subscribe(self, released: Callable[[list[dict[str, str]]], None]) -> None:
        """`released(events)` gets held events to feed when the engine ends a wait."""
        self._released.append(released)

    def get(self, uid: str) -> Pass | None:
        return self._passes.get(uid)

    def begin(self, uid: str, queue: str, timeout_s: float) -> None:
        """Before each Queue(): the pass may time out after `timeout_s` (the engine's own timeout)."""
        now = time.time()
        for old in [u for u, p in self._passes.items() if p.finished and now - p.finished_at > self.KEEP_S]:
            del self._passes[old]
        p = self._passes.get(uid)
        if p is None or p.finished is not None:
            self._passes[uid] = Pass(queue, timeout_s)
            return
        if p.queue != queue:  # overflow into another queue: the first one saw the caller leave
            self._release(p, "overflow")
            p.joins = 0
        p.queue, p.timeout_s = queue, timeout_s

    def finish(self, uid: str, outcome: str) -> None:
        """The engine's wait ended: answered, hangup, timeout, overflow, callback or a queue status."""
        p = self._passes.get(uid)
        if p is None or p.finished is not None:
            return
        p.finished, p.finished_at = outcome, time.time()
        self._release(p, outcome)

    def _release(self, p: Pass, outcome: str) -> None:
        held, p.held = p.held, []
        events = [e for e in held if outcome in ABANDONING or e["Event"].lower() != "queuecallerabandon"]
        if events:
            for released in self._released:
                released(events)

    def filter(self, e: dict[str, str], now: float) -> list[dict[str, str]]:
        """What the reducer should see of one AMI event, given the engine's passes."""
        p = self._passes.get(e.get("Uniqueid", ""))
        name = e.get("Event", "").lower()
        if p is None or e.get("Queue") != p.queue:
            return [e]
        if p.finished is not None:  # the engine is done with this caller; a later join is a new wait
            if name == "queuecallerjoin":
                del self._passes[e["Uniqueid"]]
                return [e]
            ours = name == "queuecallerabandon" and float(e.get("HoldTime") or 0) >= p.timeout_s - 1
            return [] if ours and p.finished not in ABANDONING else [e]
        if name == "queuecallerjoin":
            p.joins += 1
            if p.joins == 1:
                p.first_join_at = now
                return [e]
            p.held.clear()  # back in the queue: the held timeout was an announcement break
            return [{**e, "Event": "QueueEntry", "Wait": f"{max(0.0, now - p.first_join_at):.3f}"}]
        if name == "queuecallerabandon":
            ours = float(e.get("HoldTime") or 0) >= p.timeout_s - 1
            if ours:
                p.held.append(e)
                return []
            return [e]
        if name == "queuecallerleave" and p.held:
            p.held.append(e)
            return []
        return [e]


def _plain(message: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(message).items()}


def _noop(*_: Any, **__: Any) -> None:
    return None


class QueueListener:
    def __init__(self, settings: Settings, cfg: QueueConfig, redis: RedisGetter, passes: QueuePasses,
                 writer: RecordWriter | None = None, *, ping_s: float = 10.0, backoff_max_s: float = 10.0) -> None:
        self.settings = settings
        self.cfg = cfg
        self.redis = redis
        self.passes = passes
        self.writer = writer
        self.ping_s = ping_s
        self.backoff_max_s = backoff_max_s
        self.reducer = LiveReducer(ring_cycle(cfg, settings), cfg.rings, settings.timezone,
                                   cfg.autopause_after_misses, day_ttl_s=keys.call_record_ttl_s(settings))
        self.connected = asyncio.Event()
        self.sessions = 0  # successful (re)connects, each with a QueueStatus resync
        self._events: asyncio.Queue[tuple[dict[str, str], bool]] = asyncio.Queue(maxsize=20_000)
        self._manager: Any = None
        passes.subscribe(self._inject)

    def _inject(self, events: list[dict[str, str]]) -> None:
        for e in events:
            self._put(e, filtered=True)

    def _put(self, e: dict[str, str], filtered: bool) -> None:
        try:
            self._events.put_nowait((e, filtered))
        except asyncio.QueueFull:
            log.error("AMI listener: event queue full; dropping %s (live state resyncs on reconnect)",
                      e.get("Event"))

    def _on_event(self, _manager: Any, message: Any) -> None:
        self._put(_plain(message), filtered=False)

    async def run(self) -> None:
        """Forever: connect, resync, follow events; reconnect with a backoff when AMI is gone.

        Network errors are retried here; anything else (a bug in the consumer or a session) ends
        run() with that exception, so the service's TaskSupervisor logs it and restarts us."""
        consumer = asyncio.create_task(self._consume(), name="ami-listener-consume")
        sessions = asyncio.create_task(self._sessions(), name="ami-listener-sessions")
        try:
            done, _ = await asyncio.wait({consumer, sessions}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # raises what ended it
            raise RuntimeError("AMI listener: a loop ended on its own")
        finally:
            for task in (consumer, sessions):
                task.cancel()
            await asyncio.gather(consumer, sessions, return_exceptions=True)

    async def _sessions(self) -> None:
        backoff, warned = 0.5, False
        while True:
            try:
                await self._session()
                backoff, warned = 0.5, False
            except (AmiError, OSError, TimeoutError) as exc:
                if not warned:
                    log.warning("AMI listener: %s; retrying every %.0f s at most", exc, self.backoff_max_s)
                    warned = True
                else:
                    log.debug("AMI listener: %s", exc)
            self.connected.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.backoff_max_s)

    async def _session(self) -> None:
        manager = await connect_ami(self.settings, events="agent")  # app_queue's events are all class agent
        lost = asyncio.Event()
        setattr(manager, "connect", _noop)  # noqa: B010 - we reconnect ourselves, not panoramisk
        setattr(manager, "on_disconnect", lambda *_: lost.set())  # noqa: B010
        manager.register_event("*", self._on_event)
        try:
            reply = await send(manager, {"Action": "QueueStatus"}, 10.0, as_list=True)
            status = [_plain(m) for m in (reply if isinstance(reply, list) else [reply]) if m.get("Event")]
            for e in status:
                self._put(e, filtered=True)
            self._manager = manager
            self.sessions += 1
            self.connected.set()
            log.info("AMI listener connected to %s:%s (resync: %d entries)", self.settings.ami_host,
                     self.settings.ami_port, len(status))
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self.ping_s)
                if not lost.is_set():
                    await send(manager, {"Action": "Ping"}, 5.0)
            raise AmiError("AMI connection lost")
        finally:
            self._manager = None
            manager.close()

    async def _consume(self) -> None:
        while True:
            e, filtered = await self._events.get()
            now = time.time()
            for ev in [e] if filtered else self.passes.filter(e, now):
                try:
                    await self._handle(ev, now)
                except Exception:
                    log.exception("AMI listener: event %s not applied", ev.get("Event"))

    async def _handle(self, e: dict[str, str], now: float) -> None:
        update = self.reducer.feed(e, now)
        redis = await self.redis()
        if update.ops and redis is not None:
            try:
                await asyncio.wait_for(apply_ops(redis, update.ops), 2.0)
            except Exception as exc:  # Redis down or slow: the next resync repairs the live state
                log.warning("AMI listener: live state not written (%s)", exc)
        self._record(e, update, now)
        for order in update.pauses:
            await self._pause(order.agent, order.reason)

    async def _pause(self, agent: str, reason: str) -> None:
        manager = self._manager
        if manager is None:
            log.warning("agent %s: %s, but AMI is down; not paused", agent, reason)
            return
        try:
            await AgentControl(manager, self.cfg).pause(agent, reason)
            log.warning("agent %s paused: %s", agent, reason)
        except (AmiError, AgentError) as exc:
            log.error("agent %s: auto-pause failed: %s", agent, exc)

    def _record(self, e: dict[str, str], update: Update, now: float) -> None:
        """Agent events and answer timings on the caller's call record (buffered by the writer)."""
        if self.writer is None:
            return
        kind = _RECORDED.get(e.get("Event", "").lower())
        uid = e.get("Uniqueid", "")
        ops: list[Op] = []
        if kind and uid:
            try:
                agent = agent_from_interface(e.get("Interface", ""))
            except ValueError:
                agent = e.get("Interface", "")
            payload = {"t": now, "kind": kind, "queue": e.get("Queue"), "agent": agent}
            if kind == "agent_missed":
                payload["ring_s"] = float(e.get("RingTime") or 0) / 1000  # AgentRingNoAnswer: ms
            ops.append(RPush(keys.call_events(uid), dumps(payload)))
            if kind == "agent_connect":
                ops.append(HSet(keys.call(uid), {"agent": dumps(agent)}))
        for call_id, timing in update.timings.items():
            fields = {"answer_timing": timing.model_dump(), "answered_within_3_rings": timing.within_rings}
            ops.append(HSet(keys.call(call_id), {k: dumps(v) for k, v in fields.items()}))
        if ops:
            self.writer.submit(ops)
