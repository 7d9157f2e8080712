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
new leader loads what the last one remembered between events (ivr.queueing.leader_state, written in
those MULTIs), replays what it heard that carries no mark, then resyncs with QueueStatus. Redis out of
reach: events wait (ivr.queueing.heard) and are applied, the same way, once this node leads again.
UserEvents go to `user_event` (the callback dialer's outcomes of a dial whose node died).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from ivr import keys
from ivr.queueing.agents import AgentControl, AgentError
from ivr.queueing.ami import AmiError, connect_ami, send
from ivr.queueing.applier import EventApplier, UserEventHandler
from ivr.queueing.heard import Heard, HeardEvents
from ivr.queueing.live import LiveReducer
from ivr.queueing.model import QueueConfig
from ivr.queueing.passes import take_released
from ivr.queueing.pbx import ring_cycle
from ivr.queueing.replay import event_time
from ivr.settings import Settings
from ivr.state.lease import REDIS_FAILURES, LeaderLease
from ivr.state.redis import UNAVAILABLE, RedisGetter
from ivr.state.writer import RecordWriter

log = logging.getLogger(__name__)
_TAKEOVER: dict[str, str] = {"Event": "_takeover"}  # queued by the lease's on_gain: replay, then resync
_APPLIED = "_applied"  # a marker event: the consumer reached it (see _resync)


def _plain(message: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(message).items()}


def _noop(*_: Any, **__: Any) -> None:
    return None


class QueueListener:
    def __init__(self, settings: Settings, cfg: QueueConfig, redis: RedisGetter,
                 writer: RecordWriter | None = None, *, lease: LeaderLease | None = None,
                 user_event: UserEventHandler | None = None, ping_s: float = 10.0,
                 backoff_max_s: float = 10.0, standby_keep_s: float = 30.0, released_poll_s: float = 0.25,
                 heard_limit: int = 20_000) -> None:
        """`lease`: None = this process alone applies (one node, tests); else only while it leads."""
        self.settings, self.cfg, self.redis, self.writer = settings, cfg, redis, writer
        self.lease, self.user_event = lease, user_event
        self.ping_s, self.backoff_max_s, self.released_poll_s = ping_s, backoff_max_s, released_poll_s
        self.pass_ttl_s = keys.queue_pass_ttl_s(settings)  # also the leader state's (keys.AMI_RINGS)
        self.reducer = LiveReducer(ring_cycle(cfg, settings), cfg.rings, settings.timezone,
                                   cfg.autopause_after_misses, day_ttl_s=keys.call_record_ttl_s(settings))
        self.applier = EventApplier(self.reducer, lease, writer, self._pause, state_ttl_s=self.pass_ttl_s,
                                    user_event=user_event)
        self.connected = asyncio.Event()
        self.sessions = 0  # successful (re)connects, each with a QueueStatus resync
        self.replayed = 0  # events a takeover applied from the standby buffer
        self._events: asyncio.Queue[tuple[dict[str, str], float, bool]] = asyncio.Queue(maxsize=20_000)
        self.heard = HeardEvents(standby_keep_s, lease.lease_s if lease else 0.0, heard_limit)
        self._applied_marks: dict[int, asyncio.Event] = {}
        self._active = lease is None  # applying (leader, after the takeover's replay)
        self._suspended = False  # Redis failed under us: events wait in `heard`
        self._resume = False  # a takeover is wanted once Redis answers
        self._manager: Any = None
        if lease is not None:
            lease.on_gain.append(self._gained)

    @property
    def active(self) -> bool:
        """Applying events now: the lease is held (evaluated now) and the takeover replay is done."""
        if self._active and self.lease is not None and not self.lease.leading:
            self._active = False
        return self._active

    @property
    def duplicates(self) -> int:
        """Events skipped because a previous leader had applied them."""
        return self.applier.duplicates

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
        """Held events of waits the engine ended (on any node), fed in by the leader; and the
        takeover again once Redis answers after it failed under us."""
        while True:
            await asyncio.sleep(self.released_poll_s)
            redis = await self.redis()
            if redis is not None and self._resume and (self.lease is None or self.lease.leading):
                self._resume = False
                self._put(_TAKEOVER, time.time(), raw=False)
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
                    if not await self._handle(e, at, raw):
                        self._suspend([Heard(e, at, True)] if raw else [])
                except Exception:
                    log.exception("AMI listener: event %s not applied", e.get("Event"))
            elif raw:  # a standby keeps what it hears, for the takeover
                self.heard.add(e, at, self._holding())

    def _holding(self) -> bool:
        """Nobody may apply what we hear now: Redis is out of our reach, or it failed under us and no
        other node has led since (one that does applies what it heard itself)."""
        if self.lease is None:
            return True
        if self._suspended and self.lease.held_elsewhere:
            self._suspended = self._resume = False
            self.heard.release()
        return self._suspended or not self.lease.redis_ok

    def _suspend(self, unapplied: list[Heard]) -> None:
        """Redis failed (or the lease was lost) under an event: it and what follows wait in `heard`; the
        next takeover reloads the leader state from Redis (as of the last applied event) and replays."""
        if not self._suspended:
            log.warning("AMI listener: events wait for Redis and the lease (%d kept so far)", len(self.heard))
        self._active, self._suspended, self._resume = False, True, True
        self.heard.put_back(unapplied)

    async def _take_over(self) -> None:
        if self.lease is not None and not self.lease.leading:
            return
        redis = await self.redis()
        try:
            if redis is None:
                raise ConnectionError("Redis is down")
            callers, horizon = await self.applier.load(redis)
        except UNAVAILABLE as exc:
            log.debug("AMI listener: leader state not loaded (%s)", exc)
            self._suspend([])
            return
        self._active, self._suspended, self._resume = True, False, False
        heard, before = self.heard.take(), self.duplicates
        left = await self.applier.replay(redis, heard, horizon)
        if left:
            self._suspend(left)
            return
        skipped = self.duplicates - before
        self.replayed += len(heard) - skipped
        log.info("AMI listener: leading (%d callers' ring timing loaded); replayed %d events heard meanwhile "
                 "(%d the last leader had applied)", callers, len(heard) - skipped, skipped)
        with contextlib.suppress(AmiError, OSError):
            await self._resync(wait=False)  # the consumer is us: it applies the reply after this

    async def _handle(self, e: dict[str, str], at: float, raw: bool) -> bool:
        """False: Redis failed before the event was applied (the caller keeps it for later)."""
        redis = await self.redis()
        return redis is not None and await self.applier.handle(redis, e, at, raw)

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
