"""The audit log moves from its Redis write buffer into SQL once (real Redis; SQLite and PostgreSQL),
waits in Redis while the database is down, and the dashboard reads both without a gap or a double."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from dashboard.audit import AuditLog
from dashboard.records_db import RecordsDb
from harness.local_postgres import LocalPostgres
from ivr import keys
from ivr.clock import FixedClock
from ivr.records import audit as sql_audit
from ivr.records import db
from ivr.settings import Settings
from tests.support.postgres import fresh_database

TZ = datetime.now().astimezone().tzinfo
NOW = datetime.now(TZ)
DAY = 86400.0


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    r = Redis.from_url(redis_url)
    yield r
    await r.aclose()


def _log(redis: Redis, engine_url: str, tmp_path: Path, at: datetime = NOW) -> AuditLog:
    return AuditLog(redis, FixedClock(at), RecordsDb(Settings(state_dir=tmp_path, database_url=engine_url)))


def _rows(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return sql_audit.recent(conn, 10_000)


@pytest.mark.timeout(60)
async def test_entries_move_once_and_old_moved_ones_leave_redis(redis: Redis, engine: Engine, db_url: str,
                                                               tmp_path: Path) -> None:
    old, new = _log(redis, db_url, tmp_path, NOW - timedelta(days=2)), _log(redis, db_url, tmp_path)
    for i in range(7):
        await old.record("sup", "supervisor", "listen", f"call-{i}")
    await redis.rpush(keys.AUDIT_LOG, json.dumps({"at": (NOW - timedelta(days=2)).isoformat(), "user": "old",
                                                  "role": "admin", "action": "login", "target": "", "detail": {}}))
    await redis.rpush(keys.AUDIT_LOG, await redis.lindex(keys.AUDIT_LOG, -1))  # the same legacy entry twice
    await new.record("boss", "admin", "flow_save", "hotline", version="3")
    mover = sql_audit.AuditMover(redis, engine, keep_s=DAY, batch=4)
    while await mover.move_once():
        pass
    rows = _rows(engine)
    assert len(rows) == 10 and sum(1 for r in rows if r["user"] == "old") == 2
    assert rows[0]["action"] == "flow_save" and rows[0]["detail"] == {"version": "3"}
    assert await redis.llen(keys.AUDIT_LOG) == 1 and int(await redis.get(keys.AUDIT_MOVED)) == 1  # the new one
    await new.record("boss", "admin", "logout", "")  # not moved yet: read from Redis
    got = await new.recent(5)
    assert [e.action for e in got[:2]] == ["logout", "flow_save"] and len(got) == 5
    assert await new.count() == 11
    assert [e.target for e in await new.recent(3, action="listen", target="call-3")] == ["call-3"]
    while await mover.move_once():
        pass
    assert len(_rows(engine)) == 11 and await new.count() == 11


@pytest.mark.timeout(60)
async def test_two_movers_racing_write_each_entry_once(redis: Redis, engine: Engine, db_url: str,
                                                       tmp_path: Path) -> None:
    log = _log(redis, db_url, tmp_path)
    for i in range(300):
        await log.record("sup", "supervisor", "listen", f"call-{i}")
    other = db.make_engine(db_url)
    a = sql_audit.AuditMover(redis, engine, keep_s=DAY, batch=25)
    b = sql_audit.AuditMover(redis, other, keep_s=DAY, batch=25)

    async def drain(m: sql_audit.AuditMover) -> None:
        moved = 1
        while moved:
            moved = await m.move_once()

    await asyncio.gather(drain(a), drain(b))
    other.dispose()
    rows = _rows(engine)
    assert len(rows) == 300 and len({r["id"] for r in rows}) == 300
    assert int(await redis.get(keys.AUDIT_MOVED)) == 300


@pytest.mark.timeout(120)
async def test_database_down_entries_wait_in_redis_then_move(redis: Redis, postgres_server: LocalPostgres,
                                                            tmp_path: Path) -> None:
    url = fresh_database(postgres_server)
    engine = db.make_engine(url, connect_timeout=1)
    db.upgrade(engine)
    log = _log(redis, url, tmp_path)
    mover = sql_audit.AuditMover(redis, engine, keep_s=DAY)
    postgres_server.stop_server()
    try:
        for i in range(20):
            await log.record("sup", "supervisor", "listen", f"call-{i}")  # the dashboard keeps auditing
        with pytest.raises(SQLAlchemyError):
            await mover.move_once()
        assert await redis.llen(keys.AUDIT_LOG) == 20 and mover.failures == 1
    finally:
        postgres_server.start_server()
    while await mover.move_once():
        pass
    assert len(_rows(engine)) == 20
    engine.dispose()
