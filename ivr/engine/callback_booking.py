"""Booking a queued callback from the queue wait: the caller keeps their place and is called back."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ivr.engine.context import End, Step

if TYPE_CHECKING:
    from ivr.engine.queue_wait import QueueWait

log = logging.getLogger(__name__)
CALLBACK_TEXTS = {  # what a caller hears about a queued callback
    "booked": {"zh-CN": "已为您登记回电，我们会保留您的排队位置，在回电时间内轮到您时给您回电。感谢您的来电，再见。",
               "en-US": "Your callback is booked. You keep your place in the queue, and we will call you back "
                        "during callback hours when it is your turn. Thank you for calling. Goodbye."},
    "duplicate": {"zh-CN": "您已经登记过回电，我们会按您原来的排队顺序给您回电。再见。",
                  "en-US": "You already have a callback booked. We will call you back in your turn. Goodbye."},
    "no_number": {"zh-CN": "对不起，我们看不到您的来电号码，无法为您登记回电，请您继续等待。",
                  "en-US": "Sorry, we cannot see your phone number, so we cannot call you back. "
                           "Please stay on the line."},
    "unavailable": {"zh-CN": "对不起，现在无法登记回电，请您继续等待。",
                    "en-US": "Sorry, we cannot book a callback right now. Please stay on the line."},
}


async def book_callback(wait: QueueWait, via: str) -> Step | None:
    """Book a callback that keeps the caller's place; None when it cannot be booked (keep waiting)."""
    from redis.exceptions import RedisError

    from ivr.queueing.callbacks import CallbackError, CallbackStore, Duplicate
    from ivr.queueing.liveops import callback_ops
    from ivr.queueing.numbers import BadNumber

    ctx, cb, cfg = wait.ctx, wait.qdef.callback, wait.rt.cfg
    redis = await ctx.services.redis()
    if not cb.enabled or redis is None:
        ctx.event("callback_refused", reason="disabled" if not cb.enabled else "unavailable", via=via)
        await wait.say(CALLBACK_TEXTS["unavailable"][wait.language])
        return None
    store = CallbackStore(redis, country_code=cfg.country_code)
    try:
        got = await store.request(wait.queue, ctx.channel.env.get("callerid", ""), wait.uid, wait.entered,
                                  ctx.services.clock.now(), max_attempts=cb.max_attempts,
                                  retry_delay_s=cb.retry_delay_s)
    except BadNumber:
        ctx.event("callback_refused", reason="no_number", via=via)
        await wait.say(CALLBACK_TEXTS["no_number"][wait.language])
        return None
    except (CallbackError, RedisError, OSError) as exc:
        log.warning("call %s: callback not booked: %s", wait.uid, exc)
        ctx.event("callback_refused", reason="unavailable", via=via)
        await wait.say(CALLBACK_TEXTS["unavailable"][wait.language])
        return None
    if isinstance(got, Duplicate):
        info = {"id": got.existing.id, "queue": got.existing.queue, "via": via, "duplicate": True,
                "status": got.existing.status}
        text = CALLBACK_TEXTS["duplicate"][wait.language]
        wait.outcome = "callback_duplicate"
    else:
        info = {"id": got.id, "queue": wait.queue, "via": via, "duplicate": False, "status": got.status,
                "enqueued_at": got.enqueued_at}
        await wait.count(callback_ops(wait.queue, wait.day(), "requested"))
        text = CALLBACK_TEXTS["booked"][wait.language]
        wait.outcome = "callback"
    ctx.recorder.set("callback", info)
    ctx.event("callback", **info)
    ctx.result = "callback"
    await wait.say(text)
    return End("callback", hang_up=True)
