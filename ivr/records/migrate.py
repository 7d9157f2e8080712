"""`ivr db migrate-redis`: copy what an installation kept in Redis alone (before the records database)
into SQL, idempotently: running it twice, or while the services run, writes everything once.

- call records: every call of the Redis index is marked pending and moved by the RecordMover (an
  upsert on call_id; a finished call's Redis TTL is then shortened to the live TTL);
- QA scores: every score of the index, inserted unless its id is already there;
- weekly QA samples: inserted unless the week has one;
- the audit log: moved by the AuditMover (digest per entry);
- finished callbacks (done, failed, cancelled) with their attempts: marked finished and moved by the
  CallbackMover (an upsert on the callback id; their Redis TTL is then shortened to the live TTL).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import Engine

from ivr import keys
from ivr.records import samples, scores
from ivr.records.audit import AuditMover
from ivr.records.callback_history import FINISHED, CallbackMover
from ivr.records.mover import RecordMover
from ivr.state.redis import RedisHub

log = logging.getLogger(__name__)
PAGE = 1000


@dataclass
class Migrated:
    calls: int = 0
    scores: int = 0
    audit: int = 0
    samples: int = 0
    callbacks: int = 0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def _mark_calls(redis: Redis, mark_at: float) -> int:
    """Every call of the index into the pending set (keeping a newer mark); returns how many."""
    marked, start = 0, 0
    while True:
        ids = [_text(i) for i in await redis.zrange(keys.CALLS_INDEX, start, start + PAGE - 1)]
        if not ids:
            return marked
        await redis.zadd(keys.RECORDS_PENDING, dict.fromkeys(ids, mark_at), nx=True)  # a call's own mark stays
        marked, start = marked + len(ids), start + PAGE


async def _copy_scores(redis: Redis, engine: Engine) -> int:
    copied, start = 0, 0
    while True:
        ids = await redis.zrange(keys.QA_SCORES, start, start + PAGE - 1)
        if not ids:
            return copied
        raws = await redis.mget([keys.qa_score(_text(i)) for i in ids])
        batch = [json.loads(r) for r in raws if r]
        with engine.begin() as conn:
            copied += scores.insert_ignoring_existing(conn, batch)
        start += PAGE


async def _copy_samples(redis: Redis, engine: Engine, week_end: Callable[[str], float | None]) -> int:
    """Weekly samples (one key per week) into qa_samples; a week already there keeps its sample."""
    copied = 0
    async for raw_key in redis.scan_iter(match=keys.QA_SAMPLE_PATTERN, count=PAGE):
        week = keys.qa_sample_week(_text(raw_key))
        end = week_end(week) if week else None
        body = await redis.get(raw_key)
        if week is None or end is None or body is None:
            log.warning("migrate-redis: %s is not a weekly sample; left alone", _text(raw_key))
            continue
        with engine.begin() as conn:
            data = json.loads(body)
            copied += samples.insert_once(conn, week, end, float(data.get("drawn_at") or 0.0), _text(body))
    return copied


async def _mark_callbacks(redis: Redis) -> int:
    """Every finished callback hash into the finished set (keeping a mark already there); returns how many."""
    marked = 0
    async for raw_key in redis.scan_iter(match=keys.CALLBACK_PATTERN, count=PAGE, _type="hash"):
        status, finished_at = await redis.hmget(raw_key, ["status", "finished_at"])
        try:
            done = status is not None and json.loads(status) in FINISHED
            at = float(json.loads(finished_at)) if finished_at is not None else time.time()
        except (ValueError, TypeError):
            log.warning("migrate-redis: %s does not decode; left alone", _text(raw_key))
            continue
        if done:
            cb_id = _text(raw_key).removeprefix(keys.callback(""))
            marked += int(await redis.zadd(keys.CALLBACKS_FINISHED, {cb_id: at}, nx=True) or 0)
    return marked


async def migrate_redis(hub: RedisHub, engine: Engine, *, live_ttl_s: int, audit_keep_s: float,
                        week_end: Callable[[str], float | None]) -> Migrated:
    redis = await hub.client()
    if redis is None:
        raise ConnectionError(f"Redis {hub.url} unreachable")
    done = Migrated()
    marked = await _mark_calls(redis, time.time() - 60)
    log.info("migrate-redis: %d call record(s) in the Redis index marked to move", marked)
    mover = RecordMover(hub, engine, live_ttl_s=live_ttl_s, batch=500, settle_s=0)
    while n := await mover.move_once():
        done.calls += n
    done.scores = await _copy_scores(redis, engine)
    done.samples = await _copy_samples(redis, engine, week_end)
    audit = AuditMover(redis, engine, keep_s=audit_keep_s, batch=1000)
    while n := await audit.move_once():
        done.audit += n
    log.info("migrate-redis: %d finished callback(s) marked to move", await _mark_callbacks(redis))
    callbacks = CallbackMover(hub, engine, live_ttl_s=live_ttl_s, batch=500)
    while n := await callbacks.move_once():
        done.callbacks += n
    log.info("migrate-redis: %d call(s), %d new score(s), %d sample(s), %d audit entr(ies), %d callback(s) written",
             done.calls, done.scores, done.samples, done.audit, done.callbacks)
    return done
