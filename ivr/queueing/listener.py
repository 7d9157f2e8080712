"""The AMI listener: Asterisk's queue events -> Redis live state, auto-pauses and call records.

One long-lived AMI connection (panoramisk) on every node. Only the node holding the leader lease
(ivr.state.lease) applies what it hears: events are fed in order to LiveReducer, filtered by the
engine's Queue() passes (ivr.queueing.passes, in Redis: the engine that made a pass may run on any
node), and applied in one MULTI fenced by the lease (a node that lost it writes nothing). Auto-pause
orders from MissCounter become AgentControl.pause(reason). Answer timings, the agent and every ring
that went unanswered are written on the caller's call record. Asterisk not reachable yet, or gone: we
retry with a backoff; calls never wait on this.

Takeover without gaps or double counts: a standby keeps its AMI connection and the last
`standby_keep_s` of events. Every event the leader applies is marked by its identity (Asterisk's
Timestamp with the event's name and ids, ivr.queueing.replay) in the same MULTI as its counters; the
new leader replays what it heard that carries no mark, then resyncs with QueueStatus. UserEvents go
to `user_event` (the callback dialer's outcomes of a dial whose node died).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from ivr import keys
from ivr.queueing.agents import AgentControl, AgentError
from ivr.queueing.ami import AmiError, connect_ami, send
from ivr.queueing.live import LiveReducer, Update
from ivr.queueing.misses import agent_from_interface
from ivr.queueing.model import QueueConfig
from ivr.queueing.passes import filter_event, take_released
from ivr.queueing.pbx import ring_cycle
from ivr.queueing.replay import AppliedMarks, event_time, identity
from ivr.settings import Settings
from ivr.state.lease import REDIS_FAILURES, LeaderLease, fenced_apply
from ivr.state.ops import HSet, Op, RPush, apply_ops, dumps
from ivr.state.redis import RedisGetter
from ivr.state.writer import RecordWriter

log = logging.getLogger(__name__)
_RECORDED = {"agentcalled": "agent_called", "agentringnoanswer": "agent_missed", "agentconnect": "agent_connect"}
_TAKEOVER: dict[str, str] = {"Event": "_takeover"}  # queued by the lease's on_gain: replay, then resync
_APPLIED = "_applied"  # a marker event: the consumer reached it (see _resync)
UserEventHandler = Callable[[dict[str, str]], Awaitable[None]]


def _plain(message: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(message).items()}


def _noop(*_: Any, **__: Any) -> None:
    return None


class QueueListener:
    def __init__(self, settings: Settings, cfg: QueueConfig, redis: RedisGetter,
                 writer: RecordWriter | None = None, *, lease: LeaderLease | None = None,
                 user_event: UserEventHandler | None = None, ping_s: float = 10.0,
                 backoff_max_s: float = 10.0, standby_keep_s: float = 30.0, released_poll_s: float = 0.25) -> None:
        """`lease`: None = this process alone applies (one node, tests); else only while it leads."""
        self.settings, self.cfg, self.redis, self.writer = settings, cfg, redis, writer
        self.lease, self.user_event = lease, user_event
        self.ping_s, self.backoff_max_s, self.released_poll_s = ping_s, backoff_max_s, released_poll_s
        self.standby_keep_s = standby_keep_s
        self.pass_ttl_s = keys.queue_pass_ttl_s(settings)
        self.reducer = LiveReducer(ring_cycle(cfg, settings), cfg.rings, settings.timezone,
                                   cfg.autopause_after_misses, day_ttl_s=keys.call_record_ttl_s(settings))
        self.marks = AppliedMarks()
        self.connected = asyncio.Event()
        self.sessions = 0  # successful (re)connects, each with a QueueStatus resync
        self.replayed = 0  # events a takeover applied from the standby buffer
        self.duplicates = 0  # events skipped because the previous leader had applied them
        self._events: asyncio.Queue[tuple[dict[str, str], float, bool]] = asyncio.Queue(maxsize=20_000)
        self._standby: deque[tuple[dict[str, str], float]] = deque()
        self._applied_marks: dict[int, asyncio.Event] = {}
        self._active = lease is None  # applying (leader, after the takeover's replay)
        self._manager: Any = None
        if lease is not None:
            lease.on_gain.append(self._gained)

    @property
    def active(self) -> bool:
        """Applying events now: the lease is held (evaluated now) and the takeover replay is done."""
        if self.lease is None:
            return True
        if self._active and not self.lease.leading:
            self._active = False
        return self._active

    async def _gained(self) -> None:
        self._put(_TAKEOVER, time.time(), raw=False)

    def _put(self, e: dict[str, str], at: float, raw: bool) -> None:
        try:
            self._events.put_nowait((e, at, raw))
        except asyncio.QueueFull:
            log.error("AMI listener: event queue full; dropping %s (live state resyncs on reconnect)",
                      e.get("Event"))

    def _on_event(self, _manager: Any, message: Any) -> None:
        e = _plain(message)
        self._put(e, event_time(e, time.time()), raw=True)

    async def run(self) -> None:
        """Forever: connect, resync, follow events; reconnect with a backoff when AMI is gone.

        Network errors are retried here; anything else (a bug in the consumer or a session) ends
        run() with that exception, so the service's TaskSupervisor logs it and restarts us."""
        loops = [asyncio.create_task(self._consume(), name="ami-listener-consume"),
                 asyncio.create_task(self._sessions(), name="ami-listener-sessions"),
                 asyncio.create_task(self._released(), name="ami-listener-released")]
        try:
            done, _ = await asyncio.wait(loops, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # raises what ended it
            raise RuntimeError("AMI listener: a loop ended on its own")
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)

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
        # app_queue's events are all class agent; UserEvent(IvrCallback) is class user
        manager = await connect_ami(self.settings, events="agent,user")
        lost = asyncio.Event()
        setattr(manager, "connect", _noop)  # noqa: B010 - we reconnect ourselves, not panoramisk
        setattr(manager, "on_disconnect", lambda *_: lost.set())  # noqa: B010
        manager.register_event("*", self._on_event)
        try:
            self._manager = manager
            entries = await self._resync()
            self.sessions += 1
            self.connected.set()
            log.info("AMI listener connected to %s:%s (%s)", self.settings.ami_host, self.settings.ami_port,
                     f"resync: {entries} entries" if self.active else "standby")
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self.ping_s)
                if not lost.is_set():
                    await send(manager, {"Action": "Ping"}, 5.0)
            raise AmiError("AMI connection lost")
        finally:
            self._manager = None
            manager.close()

    async def _resync(self, wait: bool = True) -> int:
        """A QueueStatus reply replaces the live callers and agents (the leader only); with `wait`,
        returns once the consumer applied it (so `connected` means resynced)."""
        manager = self._manager
        if manager is None or not self.active:
            return 0
        reply = await send(manager, {"Action": "QueueStatus"}, 10.0, as_list=True)
        status = [_plain(m) for m in (reply if isinstance(reply, list) else [reply]) if m.get("Event")]
        now = time.time()
        for e in status:
            self._put(e, now, raw=False)
        if wait:
            done = asyncio.Event()
            self._applied_marks[id(done)] = done
            self._put({"Event": _APPLIED, "Id": str(id(done))}, now, raw=False)
            try:
                await asyncio.wait_for(done.wait(), 10.0)
            except TimeoutError:
                log.warning("AMI listener: resync not applied within 10 s")
            finally:
                self._applied_marks.pop(id(done), None)
        return len(status)

    async def _released(self) -> None:
        """Held events of waits the engine ended (on any node), fed in by the leader."""
        while True:
            await asyncio.sleep(self.released_poll_s)
            redis = await self.redis()
            if redis is None or not self.active:
                continue
            try:
                events = await asyncio.wait_for(take_released(redis), 2.0)
            except REDIS_FAILURES as exc:
                log.warning("AMI listener: released queue events not read (%s)", exc)
                continue
            now = time.time()
            for e in events:
                self._put(e, now, raw=False)

    async def _consume(self) -> None:
        while True:
            e, at, raw = await self._events.get()
            if e is _TAKEOVER:
                await self._take_over()
            elif e.get("Event") == _APPLIED:  # everything queued before it has been handled
                mark = self._applied_marks.get(int(e["Id"]))
                if mark is not None:
                    mark.set()
            elif self.active:
                try:
                    await self._handle(e, at, raw)
                except Exception:
                    log.exception("AMI listener: event %s not applied", e.get("Event"))
            elif raw:  # a standby keeps what it hears, for the takeover
                self._standby.append((e, at))
                while self._standby and self._standby[0][1] < at - self.standby_keep_s:
                    self._standby.popleft()

    async def _take_over(self) -> None:
        if self.lease is not None and not self.lease.leading:
            return
        heard, self._standby = list(self._standby), deque()
        self._active = True
        before = self.duplicates
        for e, at in heard:
            try:
                await self._handle(e, at, raw=True)
            except Exception:
                log.exception("AMI listener: replayed event %s not applied", e.get("Event"))
        self.replayed += len(heard) - (self.duplicates - before)
        log.info("AMI listener: leading; replayed %d events heard as standby (%d the last leader had applied)",
                 len(heard) - (self.duplicates - before), self.duplicates - before)
        with contextlib.suppress(AmiError, OSError):
            await self._resync(wait=False)  # the consumer is us: it applies the reply after this

    async def _handle(self, e: dict[str, str], at: float, raw: bool) -> None:
        redis = await self.redis()
        ident = identity(e) if raw else None
        if ident and redis is not None and await self.marks.seen(redis, ident):
            self.duplicates += 1
            return
        if e.get("Event", "").lower() == "userevent":
            if self.user_event is not None:
                await self.user_event(e)
            await self._apply(redis, [], ident, at)
            return
        events = [e]
        if raw and redis is not None:
            events = await asyncio.wait_for(filter_event(redis, e, at, self.pass_ttl_s, ident or ""), 2.0)
        if not events:
            await self._apply(redis, [], ident, at)
        for ev in events:
            update = self.reducer.feed(ev, at)
            await self._apply(redis, update.ops, ident, at)
            self._record(ev, update, at)
            for order in update.pauses:
                await self._pause(order.agent, order.reason)

    async def _apply(self, redis: aioredis.Redis | None, ops: list[Op], ident: str | None, at: float) -> None:
        """The event's ops and its mark in one MULTI, fenced by the lease (Redis down: resync repairs)."""
        if redis is None:
            if ops:
                log.warning("AMI listener: live state not written (Redis down)")
            return
        ops = ops + (self.marks.ops(ident, at) if ident is not None else [])  # None: not an AMI event
        try:
            if self.lease is None:
                await asyncio.wait_for(apply_ops(redis, ops), 2.0)
            elif not await asyncio.wait_for(fenced_apply(redis, self.lease, ops), 2.0):
                log.warning("AMI listener: not the leader any more; event not applied")
            await self.marks.prune(redis, at)
        except Exception as exc:  # Redis down or slow: the next resync repairs the live state
            log.warning("AMI listener: live state not written (%s)", exc)

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
