"""Booking a queued callback from the queue wait: the caller keeps their place and is called back.

The caller first confirms the number (ivr.engine.callback_number); only a number the numbering plan
lets a callback dial is booked. What the caller hears is queues.yaml `callback_texts`. This module
takes what it needs as parameters (no QueueWait): the queue wait imports it, never the other way round.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from redis.exceptions import RedisError

from ivr import keys
from ivr.engine.callback_number import NumberDialogue
from ivr.engine.context import CallContext, End, Step
from ivr.privacy.masking import mask_number
from ivr.queueing.callbacks import CallbackError, CallbackStore, Duplicate, NumberRefused
from ivr.queueing.live import callback_ops
from ivr.queueing.model import LANGUAGES, QueueConfig
from ivr.queueing.texts import TextKey
from ivr.state.ops import apply_ops

log = logging.getLogger(__name__)
REDIS_TIMEOUT = 0.5


@dataclass(frozen=True)
class BookingRequest:
    queue: str
    call_id: str
    entered: float  # when the caller entered the queue: the place the callback keeps
    language: str
    via: str  # "key" (the caller pressed the callback key) or "overflow"
    day: str  # local date of the queue's counters
    ttl_s: int = keys.DEFAULT_CALL_RECORD_TTL_S  # keys.call_record_ttl_s(settings): the counters' TTL


@dataclass(frozen=True)
class Booked:
    step: Step
    outcome: str  # "callback" or "callback_duplicate", for the listener's counters


async def _say(ctx: CallContext, cfg: QueueConfig, key: TextKey, language: str) -> None:
    if cfg.callback_texts is None:  # the model refuses callbacks without texts; nothing to say
        return
    text = cfg.callback_texts.say(key, language)
    await ctx.channel.stream_file(str(await ctx.services.synthesize(text, language)))


async def book_callback(ctx: CallContext, cfg: QueueConfig, req: BookingRequest) -> Booked | None:
    """Book a callback that keeps the caller's place; None when none was booked (keep waiting)."""
    offer = cfg.queues[req.queue].callback
    language = req.language if req.language in LANGUAGES else LANGUAGES[0]
    redis = await ctx.services.redis()
    if not offer.enabled or redis is None or cfg.callback_numbers is None or cfg.callback_texts is None:
        ctx.event("callback_refused", reason="disabled" if not offer.enabled else "unavailable", via=req.via)
        await _say(ctx, cfg, "unavailable", language)
        return None
    dialogue = NumberDialogue(ctx, offer, cfg.callback_numbers, cfg.callback_texts, cfg.country_code,
                              language, req.via)
    number = await dialogue.run()
    if number is None:
        return None
    store = CallbackStore(redis, ttl_s=req.ttl_s, country_code=cfg.country_code, plan=cfg.callback_numbers)
    try:
        got = await store.request(req.queue, number, req.call_id, req.entered, ctx.services.clock.now(),
                                  max_attempts=offer.max_attempts, retry_delay_s=offer.retry_delay_s)
    except NumberRefused as exc:  # the dialogue checked it: only a plan changed under us gets here
        ctx.event("callback_refused", reason=exc.reason, via=req.via)
        await _say(ctx, cfg, "keep_waiting", language)
        return None
    except (CallbackError, RedisError, OSError) as exc:
        log.warning("call %s: callback not booked: %s", req.call_id, exc)
        ctx.event("callback_refused", reason="unavailable", via=req.via)
        await _say(ctx, cfg, "unavailable", language)
        return None
    if isinstance(got, Duplicate):
        info = {"id": got.existing.id, "queue": got.existing.queue, "via": req.via, "duplicate": True,
                "status": got.existing.status, "callback_number": mask_number(got.existing.number)}
        key: TextKey = "duplicate"
        outcome = "callback_duplicate"
    else:
        info = {"id": got.id, "queue": req.queue, "via": req.via, "duplicate": False, "status": got.status,
                "enqueued_at": got.enqueued_at, "callback_number": mask_number(got.number)}
        await _count(ctx, req)
        key, outcome = "booked", "callback"
    ctx.recorder.set("callback", info)
    ctx.event("callback", **info)
    ctx.result = "callback"
    await _say(ctx, cfg, key, language)
    return Booked(End("callback", hang_up=True), outcome)


async def _count(ctx: CallContext, req: BookingRequest) -> None:
    redis = await ctx.services.redis()
    if redis is None:
        return
    try:
        ops = callback_ops(req.queue, req.day, "requested", ttl_s=req.ttl_s)
        await asyncio.wait_for(apply_ops(redis, ops), REDIS_TIMEOUT)
    except Exception as exc:  # counters are best effort; the call goes on
        log.warning("call %s: callback counter not written (%s)", req.call_id, exc)
