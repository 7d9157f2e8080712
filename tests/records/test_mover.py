"""Finished calls move from Redis into SQL (real Redis, SQLite and PostgreSQL): once, with nothing lost
while the database is down, and exactly once when two movers race."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from harness.local_postgres import LocalPostgres
from ivr import keys
from ivr.records import db
from ivr.records.calls import CallFilter, count_calls, get_call
from ivr.records.mover import RecordMover, move_forever
from ivr.records.schema import CallRow
from ivr.settings import Settings
from ivr.state.callrecord import CallRecorder
from ivr.state.redis import RedisHub
from ivr.state.writer import RecordWriter
from ivr.tasks import TaskSupervisor
from tests.support.postgres import fresh_database

LIVE_TTL = 3600


@pytest.fixture
async def hub(redis_url: str) -> AsyncIterator[RedisHub]:
    h = RedisHub(redis_url)
    yield h
    await h.close()


async def _calls(hub: RedisHub, n: int, *, finish: bool = True, first: int = 0) -> None:
    writer = RecordWriter(hub, ttl_seconds=120 * 86400)
    await writer.start()
    for i in range(first, first + n):
        rec = CallRecorder(writer)
        rec.start(f"call-{i}", caller="13800138000", called="400", flow="hotline", flow_version="1",
                  language="zh-CN", channel="PJSIP/x")
        rec.set_many({"queue": "support", "agent": "1001", "category": "repair"})
        rec.event("node", node="menu")
        if finish:
            rec.finish("answered")
    await writer.stop()
    assert writer.pending == 0


def _rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(CallRow)).scalar_one())


async def _drain(mover: RecordMover, now: float) -> None:
    while await mover.move_once(now=now):
        pass


@pytest.mark.timeout(60)
async def test_finished_calls_move_once_and_redis_keeps_them_only_days(hub: RedisHub, engine: Engine) -> None:
    await _calls(hub, 30)
    await _calls(hub, 2, finish=False, first=100)  # still in progress
    redis = await hub.client()
    assert redis is not None
    assert await redis.zcard(keys.RECORDS_PENDING) == 32
    mover = RecordMover(hub, engine, live_ttl_s=LIVE_TTL, batch=8, settle_s=0)
    await _drain(mover, now=time.time())
    assert _rows(engine) == 30
    with engine.connect() as conn:
        rec = get_call(conn, "call-3")
        assert rec is not None and rec["outcome"] == "answered" and rec["agent"] == "1001"
        assert [e["kind"] for e in rec["events"]] == ["node"]
        assert count_calls(conn, CallFilter(category="repair", outcome="answered")) == 30
    assert 0 < await redis.ttl(keys.call("call-3")) <= LIVE_TTL
    assert 0 < await redis.ttl(keys.call_events("call-3")) <= LIVE_TTL
    assert await redis.ttl(keys.call("call-100")) > LIVE_TTL  # unfinished: not moved, full TTL
    assert set(await redis.zrange(keys.RECORDS_PENDING, 0, -1)) == {b"call-100", b"call-101"}
    await _drain(mover, now=time.time())  # again: nothing more to do
    assert _rows(engine) == 30 and mover.moved == 30


@pytest.mark.timeout(60)
async def test_a_write_after_the_move_moves_the_call_again(hub: RedisHub, engine: Engine) -> None:
    await _calls(hub, 1)
    mover = RecordMover(hub, engine, live_ttl_s=LIVE_TTL, settle_s=0)
    await _drain(mover, now=time.time())
    writer = RecordWriter(hub, ttl_seconds=120 * 86400)
    await writer.start()
    late = CallRecorder(writer)
    late.call_id = "call-0"
    late.set("hangup_by", "agent")
    await writer.stop()
    await _drain(mover, now=time.time())
    with engine.connect() as conn:
        rec = get_call(conn, "call-0")
    assert rec is not None and rec["hangup_by"] == "agent" and _rows(engine) == 1


@pytest.mark.timeout(120)
async def test_database_down_calls_flow_records_wait_then_move_without_loss(
        hub: RedisHub, postgres_server: LocalPostgres) -> None:
    url = fresh_database(postgres_server)
    engine = db.make_engine(url, connect_timeout=1)
    db.upgrade(engine)
    await _calls(hub, 10)
    mover = RecordMover(hub, engine, live_ttl_s=LIVE_TTL, batch=4, settle_s=0, interval=0.05, backoff_max=0.2)
    assert await mover.move_once() == 4  # one batch in before the outage
    postgres_server.stop_server()
    try:
        with pytest.raises(SQLAlchemyError):
            await mover.move_once()
        await _calls(hub, 15, first=10)  # calls still flow and are recorded in Redis
        task = asyncio.create_task(mover.run())
        await asyncio.sleep(1.0)
        assert mover.failures >= 2  # retried, with backoff, and counted
        redis = await hub.client()
        assert redis is not None
        assert await redis.zcard(keys.RECORDS_PENDING) == 21  # nothing dropped from Redis
        assert await redis.ttl(keys.call("call-20")) > LIVE_TTL
    finally:
        postgres_server.start_server()
    try:
        for _ in range(100):
            if await redis.zcard(keys.RECORDS_PENDING) == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
    assert await redis.zcard(keys.RECORDS_PENDING) == 0
    assert _rows(engine) == 25
    with engine.connect() as conn:
        assert {r for (r,) in conn.execute(select(CallRow.call_id))} == {f"call-{i}" for i in range(25)}
    engine.dispose()


@pytest.mark.timeout(120)
async def test_two_movers_racing_write_each_call_exactly_once(
        hub: RedisHub, engine: Engine, db_url: str, redis_url: str) -> None:
    await _calls(hub, 120)
    other_hub = RedisHub(redis_url)
    other_engine = db.make_engine(db_url)  # a second node: its own connections
    a = RecordMover(hub, engine, live_ttl_s=LIVE_TTL, batch=10, settle_s=0)
    b = RecordMover(other_hub, other_engine, live_ttl_s=LIVE_TTL, batch=10, settle_s=0)
    now = time.time()
    try:
        await asyncio.gather(_drain(a, now), _drain(b, now))
    finally:
        await other_hub.close()
        other_engine.dispose()
    assert a.moved > 0 and b.moved > 0 and a.moved + b.moved >= 120
    assert _rows(engine) == 120
    redis = await hub.client()
    assert redis is not None and await redis.zcard(keys.RECORDS_PENDING) == 0


@pytest.mark.timeout(30)
async def test_unfinished_call_is_moved_once_stale(hub: RedisHub, engine: Engine) -> None:
    await _calls(hub, 1, finish=False)
    mover = RecordMover(hub, engine, live_ttl_s=LIVE_TTL, settle_s=0, stale_s=600)
    t = time.time()
    assert await mover.move_once(now=t) == 0
    redis = await hub.client()
    assert isinstance(redis, aioredis.Redis)
    assert await mover.move_once(now=t + 3600) == 1
    with engine.connect() as conn:
        rec = get_call(conn, "call-0")
    assert rec is not None and "outcome" not in rec


@pytest.mark.timeout(60)
async def test_serves_task_migrates_the_schema_and_moves_under_the_supervisor(hub: RedisHub, tmp_path: Path,
                                                                             redis_url: str) -> None:
    settings = Settings(state_dir=tmp_path, redis_url=redis_url)  # the default: SQLite in the state dir
    tasks = TaskSupervisor()
    tasks.spawn("records-mover", lambda: move_forever(settings, hub))
    try:
        await _calls(hub, 3)
        engine = db.make_engine(db.database_url(settings))
        for _ in range(100):
            if (tmp_path / "hotline.db").exists() and db.current_revision(engine) == db.head_revision() \
                    and _rows(engine) == 3:
                break
            await asyncio.sleep(0.1)
        assert _rows(engine) == 3 and tasks.deaths["records-mover"] == 0
        for _ in range(50):  # the planner's statistics, after the first move
            with engine.connect() as conn:
                if conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE name='sqlite_stat1'").scalar():
                    break
            await asyncio.sleep(0.1)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_stat1 WHERE tbl='calls'").scalar()
        engine.dispose()
    finally:
        await tasks.stop()
