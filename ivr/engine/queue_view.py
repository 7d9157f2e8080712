"""One queue as a waiting caller's next decision sees it right now: Asterisk's truth about its
members (AGI functions on the caller's channel) and recent handle times and the other callers'
priorities (the listener's live state in Redis), turned into a QueueSnapshot and our wait estimate.

Redis missing or slow costs only precision: the default handle time and Asterisk's own count of
waiting callers fill in, and the call goes on.
"""

from __future__ import annotations

import asyncio
import json
import logging

from ivr import keys
from ivr.engine.context import CallContext
from ivr.queueing.estimate import WaitEstimate, estimate_wait
from ivr.queueing.model import QueueConfig
from ivr.queueing.overflow import QueueSnapshot

log = logging.getLogger(__name__)
REDIS_TIMEOUT = 0.5


async def queue_snapshot(ctx: CallContext, cfg: QueueConfig, queue: str, position: int,
                         priority: int) -> tuple[QueueSnapshot, WaitEstimate | None]:
    """The queue now, for a caller at `position` (0 = not placed yet) with `priority`."""
    ch = ctx.channel

    async def number(expr: str) -> int:
        value = await ch.get_variable(expr)
        return int(value) if value and value.strip().lstrip("-").isdigit() else 0

    logged, free = await number(f"QUEUE_MEMBER({queue},logged)"), await number(f"QUEUE_MEMBER({queue},free)")
    members = [m for m in (await ch.get_variable(f"QUEUE_MEMBER_LIST({queue})") or "").split(",") if m]
    paused = min(logged, sum([await number(f"QUEUE_MEMBER({queue},paused,{m})") for m in members]))
    handle, callers = await _live(ctx, queue)
    ahead = position - 1 if position else await number(f"QUEUE_WAITING_COUNT({queue})")
    if not position and priority > 0 and callers is not None:  # VIPs go ahead of the rest
        ahead = min(ahead, sum(1 for prio in callers if prio >= priority))
    busy = max(0, logged - paused - free)
    est = estimate_wait(ahead + 1, free, busy, handle, wrapup_s=cfg.queues[queue].wrapup_s,
                        default_handle_s=cfg.default_handle_s)
    snap = QueueSnapshot(queue=queue, callers_ahead=ahead, agents_logged_in=logged, agents_paused=paused,
                         estimated_wait_s=est.seconds if est else None)
    return snap, est


async def _live(ctx: CallContext, queue: str) -> tuple[list[float], list[int] | None]:
    """Recent handle times and the waiting callers' priorities from the listener's live state."""
    redis = await ctx.services.redis()
    if redis is None:
        return [], None
    try:
        pipe = redis.pipeline(transaction=False)
        pipe.lrange(keys.queue_handle_times(queue), 0, 49)
        pipe.hvals(keys.queue_callers(queue))
        handle, callers = await asyncio.wait_for(pipe.execute(), REDIS_TIMEOUT)
        return [float(x) for x in handle], [int(json.loads(v).get("priority", 0)) for v in callers]
    except Exception as exc:  # the default handle time fills in
        log.info("call %s: live queue state not read (%s)", ctx.call_id, exc)
        return [], None
