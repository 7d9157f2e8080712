"""Finished callbacks and their attempts move from Redis into SQL (real Redis, SQLite and PostgreSQL):
once, with nothing lost while the database is down, exactly once when two movers race."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from harness.local_postgres import LocalPostgres
from ivr import keys
from ivr.queueing.callbacks import CallbackRequest, CallbackStore
from ivr.records import callback_history as history
from ivr.records import db
from ivr.records.schema import CallbackRow
from ivr.state.redis import RedisHub
from tests.support.postgres import fresh_database

LIVE_TTL = 3600
FULL_TTL = 120 * 86400
MON_10 = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
async def hub(redis_url: str) -> AsyncIterator[RedisHub]:
    h = RedisHub(redis_url)
    yield h
    await h.close()


async def _finished(hub: RedisHub, n: int, first: int = 0) -> list[str]:
    """n callbacks: even ones answered at the second attempt, odd ones failed after max_attempts (2)."""
    redis = await hub.client()
    assert redis is not None
    store = CallbackStore(redis, ttl_s=FULL_TTL)
    ids = []
    for i in range(first, first + n):
        cb = await store.request("support", f"1380000{i:04d}", f"call-{i}", 1000.0 + i, MON_10, max_attempts=2)
        assert isinstance(cb, CallbackRequest)
        await store.record_attempt(cb.id, "customer_no_answer", MON_10, {"agent": "1001"})
        await store.record_attempt(cb.id, "answered" if i % 2 == 0 else "customer_busy", MON_10)
        ids.append(cb.id)
    return ids


def _rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(CallbackRow)).scalar_one())


async def _drain(mover: history.CallbackMover) -> None:
    while await mover.move_once():
        pass


@pytest.mark.timeout(60)
async def test_finished_callbacks_move_once_with_attempts_and_open_ones_stay(hub: RedisHub, engine: Engine) -> None:
    ids = await _finished(hub, 6)
    redis = await hub.client()
    assert redis is not None
    open_cb = await CallbackStore(redis).request("support", "13900000001", "call-open", 5.0, MON_10)
    assert isinstance(open_cb, CallbackRequest)
    assert await redis.zcard(keys.CALLBACKS_FINISHED) == 6  # the open one is not finished
    mover = history.CallbackMover(hub, engine, live_ttl_s=LIVE_TTL, batch=4)
    await _drain(mover)
    await _drain(mover)  # again: nothing more
    assert _rows(engine) == 6 and mover.moved == 6
    with engine.connect() as conn:
        done, failed = history.get(conn, ids[0]), history.get(conn, ids[1])
        assert history.get(conn, open_cb.id) is None
        period = history.finished_between(conn, MON_10.timestamp() - 1, MON_10.timestamp() + 1, queue="support")
    assert done is not None and done["status"] == "done" and done["attempts"] == 2
    assert [a["outcome"] for a in done["attempts_log"]] == ["customer_no_answer", "answered"]
    assert done["attempts_log"][0]["agent"] == "1001"
    assert failed is not None and failed["status"] == "failed" and failed["last_outcome"] == "customer_busy"
    assert sorted((r["status"], r["attempts"]) for r in period) == [("done", 2)] * 3 + [("failed", 2)] * 3
    assert await redis.zcard(keys.CALLBACKS_FINISHED) == 0
    assert 0 < await redis.ttl(keys.callback(ids[0])) <= LIVE_TTL
    assert 0 < await redis.ttl(keys.callback_attempts(ids[0])) <= LIVE_TTL
    assert await redis.ttl(keys.callback(open_cb.id)) == -1  # open: untouched


@pytest.mark.timeout(60)
async def test_a_callback_failed_without_a_dial_is_moved_with_its_reason(hub: RedisHub, engine: Engine) -> None:
    redis = await hub.client()
    assert redis is not None
    store = CallbackStore(redis, ttl_s=FULL_TTL)
    cb = await store.request("support", "13800000001", "call-1", 1.0, MON_10)
    assert isinstance(cb, CallbackRequest)
    assert await store.fail(cb.id, "support", "emergency", MON_10, cb.number) == "failed"
    await _drain(history.CallbackMover(hub, engine, live_ttl_s=LIVE_TTL))
    with engine.connect() as conn:
        row = conn.execute(select(CallbackRow).where(CallbackRow.id == cb.id)).one()
    assert (row.status, row.failed_reason, row.attempts, row.finished_at) == ("failed", "emergency", 0,
                                                                            MON_10.timestamp())


@pytest.mark.timeout(120)
async def test_two_movers_racing_write_each_callback_once(hub: RedisHub, engine: Engine, db_url: str,
                                                         redis_url: str) -> None:
    await _finished(hub, 40)
    other_hub, other_engine = RedisHub(redis_url), db.make_engine(db_url)  # a second node
    a = history.CallbackMover(hub, engine, live_ttl_s=LIVE_TTL, batch=5)
    b = history.CallbackMover(other_hub, other_engine, live_ttl_s=LIVE_TTL, batch=5)
    try:
        await asyncio.gather(_drain(a), _drain(b))
    finally:
        await other_hub.close()
        other_engine.dispose()
    assert a.moved + b.moved >= 40 and _rows(engine) == 40


@pytest.mark.timeout(120)
async def test_database_down_callbacks_finish_and_wait_in_redis_then_move(
        hub: RedisHub, postgres_server: LocalPostgres) -> None:
    engine = db.make_engine(fresh_database(postgres_server), connect_timeout=1)
    db.upgrade(engine)
    await _finished(hub, 3)
    mover = history.CallbackMover(hub, engine, live_ttl_s=LIVE_TTL, batch=2, interval=0.05, backoff_max=0.2)
    assert await mover.move_once() == 2
    redis = await hub.client()
    assert redis is not None
    postgres_server.stop_server()
    try:
        with pytest.raises(SQLAlchemyError):
            await mover.move_once()
        late = await _finished(hub, 4, first=10)  # the dialer goes on finishing callbacks
        task = asyncio.create_task(mover.run())
        await asyncio.sleep(1.0)
        assert mover.failures >= 2
        assert await redis.zcard(keys.CALLBACKS_FINISHED) == 5  # nothing dropped
        assert await redis.ttl(keys.callback(late[0])) > LIVE_TTL
    finally:
        postgres_server.start_server()
    try:
        for _ in range(100):
            if await redis.zcard(keys.CALLBACKS_FINISHED) == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
    assert _rows(engine) == 7 and await redis.zcard(keys.CALLBACKS_FINISHED) == 0
    engine.dispose()


@pytest.mark.timeout(30)
async def test_a_mark_whose_callback_expired_is_dropped(hub: RedisHub, engine: Engine, redis_url: str) -> None:
    r = Redis.from_url(redis_url)
    await r.zadd(keys.CALLBACKS_FINISHED, {"gone": 1.0})
    await r.aclose()
    assert await history.CallbackMover(hub, engine, live_ttl_s=LIVE_TTL).move_once() == 0
    redis = await hub.client()
    assert redis is not None and await redis.zcard(keys.CALLBACKS_FINISHED) == 0
