"""How the AMI leader applies one event: in one MULTI, fenced by the lease, or not at all.

An event AMI sent (`raw`) is first looked up among the marks of applied events (ivr.queueing.replay:
a previous leader may have applied it) and passed through the engine's Queue() passes
(ivr.queueing.passes); then LiveReducer turns it into writes, and those, what the reducer now
remembers of the callers' rings and the agents' misses (ivr.queueing.leader_state) and the event's
mark go in one MULTI (ivr.state.lease.fenced_apply). What the event adds to call records goes to the
RecordWriter only once that MULTI is done, auto-pauses are ordered only then.

`handle` returns False when Redis failed before the event was applied: the listener keeps the event
and, once Redis answers, takes over again (`load`, then replays). As the leader state in Redis is that
of the last applied event, a replay ends where it would have without the failure or the takeover.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from ivr.queueing import leader_state
from ivr.queueing.heard import Heard
from ivr.queueing.live import LiveReducer, record_ops
from ivr.queueing.passes import filter_event
from ivr.queueing.replay import AppliedMarks, identity
from ivr.state.lease import REDIS_FAILURES, LeaderLease, fenced_apply
from ivr.state.ops import Op, apply_ops
from ivr.state.redis import UNAVAILABLE
from ivr.state.writer import RecordWriter

log = logging.getLogger(__name__)
UserEventHandler = Callable[[dict[str, str]], Awaitable[None]]
PauseHandler = Callable[[str, str], Awaitable[None]]  # agent, reason
TIMEOUT_S = 2.0  # each Redis step of an event; the takeover's load gets more (a whole hash)


class EventApplier:
    def __init__(self, reducer: LiveReducer, lease: LeaderLease | None, writer: RecordWriter | None,
                 pause: PauseHandler, *, state_ttl_s: int, user_event: UserEventHandler | None = None) -> None:
        """`state_ttl_s`: keys.queue_pass_ttl_s(settings), for the passes and the leader state alike."""
        self.reducer, self.lease, self.writer, self.pause = reducer, lease, writer, pause
        self.state_ttl_s, self.user_event = state_ttl_s, user_event
        self.marks = AppliedMarks()
        self.duplicates = 0  # events skipped because a previous leader had applied them

    async def load(self, redis: aioredis.Redis) -> tuple[int, float | None]:
        """On a takeover: the last leader's state into the reducer. Returns how many callers it held
        and the time of the oldest applied mark kept (see `replay`). Raises what Redis raises."""
        now = time.time()
        book, misses = self.reducer.book, self.reducer.misses
        callers = await asyncio.wait_for(leader_state.load(redis, book, misses, now, self.state_ttl_s), 5.0)
        return callers, await asyncio.wait_for(self.marks.oldest(redis), TIMEOUT_S)

    async def replay(self, redis: aioredis.Redis, heard: list[Heard], horizon: float | None) -> list[Heard]:
        """`heard` in order; returns what is left when Redis failed. An event older than `horizon` is
        skipped: its mark may have been pruned, by a leader that applied events `keep_s` later."""
        for i, item in enumerate(heard):
            if horizon is not None and item.at < horizon:
                self.duplicates += 1
                continue
            try:
                if not await self.handle(redis, item.event, item.at, raw=True):
                    return heard[i:]
            except Exception:
                log.exception("AMI listener: replayed event %s not applied", item.event.get("Event"))
        return []

    async def handle(self, redis: aioredis.Redis, e: dict[str, str], at: float, raw: bool) -> bool:
        """One event (`raw`: as AMI sent it, else a resync entry or a released one). False: Redis
        failed and nothing of it was applied."""
        ident = identity(e) if raw else None
        try:
            seen = bool(ident) and await asyncio.wait_for(self.marks.seen(redis, ident or ""), TIMEOUT_S)
            if seen:
                self.duplicates += 1
                return True
            if e.get("Event", "").lower() == "userevent":
                if self.user_event is not None:
                    await self.user_event(e)
                return await self._apply(redis, [], ident, at)
            events = [e]
            if raw:
                filtered = filter_event(redis, e, at, self.state_ttl_s, ident or "")
                events = await asyncio.wait_for(filtered, TIMEOUT_S)
        except UNAVAILABLE:
            return False
        if not events:
            return await self._apply(redis, [], ident, at)
        for ev in events:
            if not await self._feed(redis, ev, at, ident):
                return False
        return True

    async def _feed(self, redis: aioredis.Redis, e: dict[str, str], at: float, ident: str | None) -> bool:
        update = self.reducer.feed(e, at)
        state = leader_state.state_ops(self.reducer.book, self.reducer.misses, self.state_ttl_s)
        if not await self._apply(redis, update.ops + state, ident, at):
            return False
        records = record_ops(e, update, at)  # on the caller's call record, buffered by the writer
        if records and self.writer is not None:
            self.writer.submit(records)
        for order in update.pauses:
            await self.pause(order.agent, order.reason)
        return True

    async def _apply(self, redis: aioredis.Redis, ops: list[Op], ident: str | None, at: float) -> bool:
        """The ops and the event's mark in one MULTI, fenced by the lease. False: not applied (Redis out of
        reach, or the lease lost); a write Redis rejects is logged and dropped, as a retry would fail too."""
        ops = ops + (self.marks.ops(ident, at) if ident is not None else [])  # None: not an AMI event
        try:
            if self.lease is None:
                await asyncio.wait_for(apply_ops(redis, ops), TIMEOUT_S)
            elif not await asyncio.wait_for(fenced_apply(redis, self.lease, ops), TIMEOUT_S):
                log.warning("AMI listener: not the leader any more; event not applied")
                return False
        except UNAVAILABLE as exc:
            log.warning("AMI listener: live state not written (%s)", exc)
            return False
        except REDIS_FAILURES as exc:
            log.error("AMI listener: Redis refused an event's writes (%s); dropped", exc)
        with contextlib.suppress(*REDIS_FAILURES):
            await asyncio.wait_for(self.marks.prune(redis, at), TIMEOUT_S)
        return True
