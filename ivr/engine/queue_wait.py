"""The queue node's live behaviour: priority, overflow, announcements, the callback key, keeping the place.

The caller waits in Queue() passes, each ending at the next wake-up (announcement, max-wait check, or the
announced wait running out) by Queue()'s own timeout; the engine checks overflow, speaks position and OUR
estimate (or the self-service hint and the callback offer) in the caller's language, and re-enters at
QUEUEPOSITION (Queue()'s `position`): nobody who came later gets ahead. A ringing agent is not cut short
(timeoutpriority=conf). The callback key leaves Queue() into ivr-queue-exit while our AGI still runs: the
callback is booked (ivr.engine.callback_booking) with the ORIGINAL entry time (the place). Option `c`:
the flow goes on at `answered` when the agent hangs up. Every decision is on the call record.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from agi.protocol import AgiHangup
from ivr import keys
from ivr.callflow.nodes import QueueNode
from ivr.clock import WallTime
from ivr.engine.callback_booking import BookingRequest, book_callback
from ivr.engine.context import QUEUE_ANSWERED, CallContext, End, Step, status_branch
from ivr.engine.queue_view import queue_snapshot
from ivr.queueing import announce
from ivr.queueing.estimate import WaitEstimate
from ivr.queueing.live import overflow_ops
from ivr.queueing.model import LANGUAGES, Phase, QueueConfig, QueueDef
from ivr.queueing.overflow import OverflowDecision, QueueSnapshot, evaluate_overflow
from ivr.queueing.passes import QueuePasses
from ivr.queueing.pbx import EXIT_CONTEXT
from ivr.queueing.priority import VipList, priority_for
from ivr.schedule import read_override
from ivr.state.ops import Op, apply_ops

log = logging.getLogger(__name__)
REDIS_TIMEOUT = 0.5
MAX_QUEUE_HOPS = 2  # overflow {queue: x} at most this often per call: no ping-pong between queues


@dataclass
class QueueRuntime:
    """What live queue nodes share: queues.yaml, the ring cycle and the passes the listener reads."""

    cfg: QueueConfig
    passes: QueuePasses
    timezone: str = "Asia/Shanghai"
    min_pass_s: int = 2  # a Queue() pass shorter than this would only churn join/leave
    record_ttl_s: int = keys.DEFAULT_CALL_RECORD_TTL_S  # keys.call_record_ttl_s(settings): day counters
    wall: WallTime = time.time  # the caller's place, the counters' day: real time, as the AMI listener's


class QueueWait:
    def __init__(self, node: QueueNode, ctx: CallContext, rt: QueueRuntime) -> None:
        self.node, self.ctx, self.rt = node, ctx, rt
        self.queue = node.queue
        self.uid = ctx.call_id
        self.entered = rt.wall()  # the caller's place: a callback keeps it
        self._t0 = time.monotonic()
        self.position = 0  # Asterisk's position when the last pass ended; 0 = none yet
        self.priority = 0
        self.offer_due = math.inf  # waited_s when the last announced estimate runs out
        self.outcome = ""  # how the wait ended, for the listener's counters ("" = not decided yet)
        self.language = ctx.language if ctx.language in LANGUAGES else LANGUAGES[0]

    @property
    def qdef(self) -> QueueDef:
        return self.rt.cfg.queues[self.queue]

    def waited(self) -> float:
        return time.monotonic() - self._t0

    async def run(self) -> Step:
        try:
            await self._set_priority()
            for _ in range(MAX_QUEUE_HOPS + 1):
                step = await self._in_queue()
                if step is not None:
                    return step
            self.outcome = "overflow"
            return self.node.otherwise
        except AgiHangup:
            self.outcome = self.outcome or "hangup"
            raise
        except Exception:  # the engine falls back to the dialplan's queue: not an abandon
            self.outcome = self.outcome or "error"
            raise
        finally:
            await self.rt.passes.finish(self.uid, self.outcome or "hangup")

    async def _set_priority(self) -> None:
        ctx, cfg = self.ctx, self.rt.cfg
        redis = await ctx.services.redis()
        vips = await VipList(redis, cfg).numbers() if redis is not None else set(cfg.vip_numbers)
        category = ctx.vars.get("category")
        prio = priority_for(ctx.channel.env.get("callerid"), str(category) if category else None, cfg, vips)
        self.priority = max(prio, self.node.priority or 0)
        await ctx.channel.set_variable("QUEUE_PRIO", str(self.priority))
        ctx.recorder.set("queue_priority", self.priority)

    async def _in_queue(self) -> Step | None:
        """Wait in self.queue; None when an overflow rule moved the caller to another queue."""
        ctx, node, qdef = self.ctx, self.node, self.qdef
        ctx.recorder.set("queue", self.queue)
        ctx.event("queue", queue=self.queue, timeout=node.timeout, priority=self.priority)
        ctx.result = "queued"
        decision = await self._overflow("arrival")
        if decision is not None:
            return await self._overflow_to(decision)
        schedule = announce.AnnouncementSchedule(qdef.announce.first_delay_s, qdef.announce.interval_s,
                                        qdef.announce.self_service_hint)
        announcement = schedule.next_event(-1e-6)
        while True:
            waited = self.waited()
            remaining = node.timeout - waited
            if remaining <= 0:
                return self._left("TIMEOUT", "timeout")
            wake = min(announcement.at_s, self._next_max_wait(waited), self.offer_due) - waited
            pass_s = min(max(self.rt.min_pass_s, math.ceil(wake)), max(1, math.ceil(remaining)))
            status, key = await self._pass(pass_s)
            if key is not None:
                step = await self._key(key)
                if step is not None:
                    return step
                continue
            if status in QUEUE_ANSWERED:
                self.outcome = "answered"
                ctx.event("queue_result", queue=self.queue, status="ANSWERED")
                return node.answered or End("queued", hang_up=True)
            if status != "TIMEOUT":
                return self._left(status, status.lower())
            if self.waited() >= node.timeout:
                return self._left("TIMEOUT", "timeout")
            decision = await self._overflow("waiting")
            if decision is not None:
                return await self._overflow_to(decision)
            key = None
            if self.waited() + 0.5 >= announcement.at_s:
                key = await self._announce(announcement.kind)
                announcement = schedule.next_event(self.waited())
            elif self.waited() + 0.5 >= self.offer_due:  # the announced wait is over: offer the callback now
                key = await self._announce("hint")
            if key is not None:
                step = await self._key(key)
                if step is not None:
                    return step

    def _next_max_wait(self, waited: float) -> float:
        limits = [r.when.waited_over_s for r in self.qdef.overflow
                  if r.when.waited_over_s is not None and "waiting" in r.phases]
        later = [limit + 0.5 for limit in limits if limit + 0.5 > waited]
        return min(later, default=math.inf)

    def _left(self, status: str, outcome: str) -> Step:
        self.outcome = outcome
        self.ctx.event("queue_result", queue=self.queue, status=status)
        self.ctx.result = None
        return status_branch(self.node.on, status) or self.node.otherwise

    async def _pass(self, seconds: int) -> tuple[str, str | None]:
        """One Queue() pass: (QUEUESTATUS, the exit key or None)."""
        ch = self.ctx.channel
        await ch.set_variable("QUEUESTATUS", "")
        await self.rt.passes.begin(self.uid, self.queue, seconds)
        # Queue(queuename,options,URL,announceoverride,timeout,AGI,gosub,rule,position)
        await ch.exec("Queue", self.queue, "c", "", "", str(seconds), "", "", "",
                      str(self.position) if self.position else "")
        status = (await ch.get_variable("QUEUESTATUS") or "").upper()
        self.position = int(await ch.get_variable("QUEUEPOSITION") or 0) or self.position
        if status == "" and await ch.get_variable("CONTEXT") == EXIT_CONTEXT:
            return status, await ch.get_variable("EXTEN") or ""
        return status, None

    async def _key(self, key: str) -> Step | None:
        """A key pressed while waiting; the callback key books a callback, others are ignored."""
        self.ctx.event("dtmf", digits=key, during="queue")
        cb = self.qdef.callback
        if cb.enabled and key == cb.key:
            return await self._book("key")
        return None

    async def _book(self, via: str) -> Step | None:
        """The callback dialogue and booking; None when nothing was booked (the caller keeps waiting)."""
        req = BookingRequest(self.queue, self.uid, self.entered, self.language, via, self.day(),
                             ttl_s=self.rt.record_ttl_s)
        booked = await book_callback(self.ctx, self.rt.cfg, req)
        self.outcome = booked.outcome if booked else self.outcome
        return booked.step if booked else None

    async def snapshot(self) -> tuple[QueueSnapshot, WaitEstimate | None]:
        return await queue_snapshot(self.ctx, self.rt.cfg, self.queue, self.position, self.priority)

    async def _overflow(self, phase: Phase) -> OverflowDecision | None:
        rules = self.qdef.overflow
        if not rules:
            return None
        services = self.ctx.services
        snap, _ = await self.snapshot()
        redis = await services.redis()
        overrides = {n: v for n in {r.during for r in rules if r.during} if (v := await read_override(n, redis))}
        try:
            return evaluate_overflow(rules, snap, services.clock.now(), phase, self.waited(),
                                     schedules=services.schedules, overrides=overrides)
        except ValueError as exc:  # a `during` schedule missing from schedules.yaml: keep queueing
            log.error("call %s: overflow rules of %s not evaluated: %s", self.uid, self.queue, exc)
            return None

    async def count(self, ops: list[Op]) -> None:
        try:
            if (redis := await self.ctx.services.redis()) is not None:
                await asyncio.wait_for(apply_ops(redis, ops), REDIS_TIMEOUT)
        except Exception as exc:  # counters are best effort; the call goes on
            log.warning("call %s: queue counters not written (%s)", self.uid, exc)

    def day(self) -> str:
        return datetime.fromtimestamp(self.rt.wall(), ZoneInfo(self.rt.timezone)).date().isoformat()

    async def _overflow_to(self, decision: OverflowDecision) -> Step | None:
        ctx = self.ctx
        ctx.recorder.set("overflow", decision.model_dump())
        ctx.event("overflow", **decision.model_dump())
        await self.count(overflow_ops(decision, self.day(), ttl_s=self.rt.record_ttl_s))
        if decision.target_kind == "callback":
            step = await self._book("overflow")
            if step is not None:
                return step
        elif decision.target_kind == "queue" and decision.target in self.rt.cfg.queues:
            self.queue, self.position = decision.target, 0
            return None
        self.outcome = "overflow"
        ctx.result = None
        return self.node.otherwise  # voicemail (the flow's busy branch) or a number we cannot dial here

    async def _announce(self, kind: str) -> str | None:
        cb = self.qdef.callback
        data: dict[str, object] = {"announcement": kind, "queue": self.queue, "waited_s": round(self.waited(), 1)}
        if kind == "position":
            snap, est = await self.snapshot()
            position = snap.callers_ahead + 1
            if position == 1 and est is not None and est.seconds == 0:
                self.ctx.event("queue_announcement_skipped", position=1, reason="next, an agent is free")
                return None  # back into Queue() at once: an agent is about to ring
            text = announce.announcement_text(self.rt.cfg.announcement_texts, position, est, self.language)
            # What the caller heard ("less than a minute" = 60 s): nobody waits past it without a callback offer.
            promised = 60.0 * (announce.spoken_minutes(est.seconds) or 1) if est and est.seconds <= 3600 else math.inf
            data.update(position=position, estimate_s=est.seconds if est else None,
                        promised_s=None if math.isinf(promised) else promised)
            self.offer_due = self.waited() + promised if cb.enabled else math.inf
        else:
            self.offer_due = math.inf
            words = self.rt.cfg.announcement_texts
            offer = announce.callback_offer_text(words, cb.key, self.language) if cb.enabled else ""
            hint = announce.self_service_hint(words, self.rt.cfg.self_service, self.language)
            text = " ".join(filter(None, (hint, offer)))
        path = await self.ctx.services.synthesize(text, self.language)
        self.ctx.event("queue_announcement", text=text, prompt=str(path), **data)
        return await self.ctx.channel.stream_file(str(path), cb.key if cb.enabled else "") or None


async def run_live_queue(node: QueueNode, ctx: CallContext, rt: QueueRuntime) -> Step:
    if node.prompt is not None:
        await ctx.play(node.prompt)
    return await QueueWait(node, ctx, rt).run()
