"""`fallback`: runs from the dialplan when the FastAGI server is down or failed the call.

    AGI(/path/to/.venv/bin/python,-m,agi.classic,fallback,<queue>[,<reason>])

It must never make things worse: it sets IVR_FALLBACK_QUEUE for the dialplan (which then queues
the caller), plays nothing, notes the fallback in the call record if Redis answers within
0.5 s, and exits 0 whatever happens.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from agi.classic.pyst import ClassicAgi
from ivr import keys
from ivr.settings import load_settings

log = logging.getLogger(__name__)

QUEUE_VARIABLE = "IVR_FALLBACK_QUEUE"
DEFAULT_QUEUE = "support"
DEFAULT_REASON = "fastagi unavailable"
REDIS_TIMEOUT_S = 0.5


def run(agi: ClassicAgi, args: list[str]) -> int:
    queue = args[0] if args and args[0] else DEFAULT_QUEUE
    reason = args[1] if len(args) > 1 and args[1] else DEFAULT_REASON
    call_id = agi.header.get("agi_uniqueid", "")
    try:
        agi.set_variable(QUEUE_VARIABLE, queue)
    except Exception as e:  # the caller may be gone already; nothing else to do about it
        log.warning("call %s: could not set %s: %s", call_id or "?", QUEUE_VARIABLE, e)
    note_fallback(call_id, reason, caller=agi.header.get("agi_callerid", ""),
                  queue=queue, channel=agi.header.get("agi_channel", ""))
    return 0


def note_fallback(
    call_id: str, reason: str, redis_url: str | None = None, *, caller: str = "", queue: str = "", channel: str = ""
) -> bool:
    """Best effort: mark ivr:call:<call_id> with fallback=true and the reason. Never raises."""
    fields = {"fallback": True, "fallback_reason": reason, "fallback_queue": queue}
    return mark_call(call_id, fields, {"caller": caller, "channel": channel}, redis_url, what="fallback")


def mark_call(call_id: str, fields: dict[str, Any], identity: dict[str, str], redis_url: str | None = None, *,
              what: str, timeout_s: float = REDIS_TIMEOUT_S) -> bool:
    """Best effort: set `fields` on ivr:call:<call_id> (and `identity` where missing). Never raises."""
    if not call_id:
        log.warning("no agi_uniqueid in the AGI header; %s not recorded", what)
        return False
    try:
        url, ttl_s = _redis_settings(redis_url)
        _write(url, call_id, fields, identity, ttl_s, timeout_s)
    except Exception as e:
        log.warning("call %s: %s not recorded in Redis: %s", call_id, what, e)
        return False
    return True


def _redis_settings(redis_url: str | None) -> tuple[str, int]:
    """(Redis URL, TTL of the call record in seconds)."""
    try:
        settings = load_settings()
        return redis_url or settings.redis_url, keys.call_record_ttl_s(settings)
    except Exception as e:  # an unrelated bad IVR_* variable must not stop the note
        log.warning("settings unreadable (%s); using IVR_REDIS_URL", e)
        url = redis_url or os.environ.get("IVR_REDIS_URL")
        if not url:
            raise RuntimeError("no Redis URL: settings unreadable and IVR_REDIS_URL unset") from None
        return url, keys.DEFAULT_CALL_RECORD_TTL_S


def _write(url: str, call_id: str, fields: dict[str, Any], identity: dict[str, str], ttl_s: int,
           timeout_s: float) -> None:
    # No retries: redis-py retries 3 times by default, which would multiply the time budget.
    client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                  retry=Retry(NoBackoff(), 0))
    try:
        pipe = client.pipeline(transaction=False)
        key = keys.call(call_id)
        now = time.time()
        for field, value in fields.items():
            pipe.hset(key, field, json.dumps(value, ensure_ascii=False))
        # A call whose flow failed midway already has a record: only fill what is missing, so
        # the call still shows in the call list (a server that was down wrote nothing).
        for field, value in identity.items():
            pipe.hsetnx(key, field, json.dumps(value, ensure_ascii=False))
        pipe.hsetnx(key, "start", json.dumps(now))
        pipe.zadd(keys.CALLS_INDEX, {call_id: now}, nx=True)
        pipe.expire(key, ttl_s)
        pipe.execute()
    finally:
        client.close()
