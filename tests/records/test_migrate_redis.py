"""`ivr db migrate-redis`: what an installation kept in Redis alone (records, scores, audit, written by
the product's own code) lands in SQL once, even when run twice."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from redis.asyncio import Redis
from sqlalchemy import func, select
from typer.testing import CliRunner

from bench.records_baseline import ScoreStore
from dashboard.scoring import ScoreInput
from ivr import keys
from ivr.cli.main import build_app
from ivr.queueing.callbacks import CallbackRequest, CallbackStore
from ivr.records import db, samples
from ivr.records.calls import CallFilter, count_calls, get_call
from ivr.records.schema import AuditRow, CallbackRow, ScoreRow
from ivr.state.callrecord import CallRecorder
from ivr.state.redis import RedisHub
from ivr.state.writer import RecordWriter

KPIS = {"answering": 80, "accuracy": 70, "handling": 60, "satisfaction": 90}


async def _legacy_data(redis_url: str) -> None:
    """As before the records database: records in Redis (no pending marks), scores, audit without ids."""
    hub = RedisHub(redis_url)
    writer = RecordWriter(hub, ttl_seconds=120 * 86400)
    await writer.start()
    for i in range(40):
        rec = CallRecorder(writer)
        rec.start(f"old-{i}", caller="13800138000", called="400", flow="hotline", flow_version="1",
                  language="zh-CN", channel="PJSIP/x")
        rec.set_many({"agent": "1001", "queue": "support"})
        rec.finish("answered")
    await writer.stop()
    r = Redis.from_url(redis_url, decode_responses=True)  # as the dashboard's client
    await r.delete(keys.RECORDS_PENDING)  # the old writer marked nothing
    store = ScoreStore(r)
    first = await store.submit("old-1", "1001", "2026-W10", "sup", ScoreInput(kpis=KPIS), at=time.time() - 50)
    await store.submit("old-1", "1001", "2026-W10", "sup", ScoreInput(kpis=KPIS, supersedes=first.id, reason="x"),
                       at=time.time() - 40)
    await store.submit("old-2", "1001", "2026-W10", "sup2", ScoreInput(kpis=KPIS), at=time.time() - 30)
    await r.set(keys.qa_sample("2026-W10"), json.dumps({"week": "2026-W10", "seed": 7, "drawn_at": 1.0}))
    for i in range(5):
        await r.rpush(keys.AUDIT_LOG, json.dumps({"at": "2026-03-02T10:00:00+08:00", "user": "sup",
                                                  "role": "supervisor", "action": "listen", "target": f"old-{i}",
                                                  "detail": {}}))
    callbacks = CallbackStore(r, ttl_s=120 * 86400)
    for number, outcome in (("13800000001", "answered"), ("13800000002", None)):
        cb = await callbacks.request("support", number, "old-1", 1.0, datetime.now(UTC))
        assert isinstance(cb, CallbackRequest)
        if outcome:
            await callbacks.record_attempt(cb.id, "answered", datetime.now(UTC))
    await r.delete(keys.CALLBACKS_FINISHED)  # the old store marked nothing
    await r.aclose()
    await hub.close()


@pytest.mark.timeout(120)
def test_migrate_redis_copies_everything_once(tmp_path: Path, redis_url: str, db_url: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    asyncio.run(_legacy_data(redis_url))
    monkeypatch.setenv("IVR_REDIS_URL", redis_url)
    monkeypatch.setenv("IVR_DATABASE_URL", db_url)
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path))
    runner, app = CliRunner(), build_app()
    first = runner.invoke(app, ["db", "migrate-redis"])
    assert first.exit_code == 0, first.output
    assert ("40 call record(s), 3 new QA score(s), 1 new weekly sample(s), 5 audit entr(ies), "
            "1 finished callback(s)") in first.output
    again = runner.invoke(app, ["db", "migrate-redis"])
    assert again.exit_code == 0 and "0 new QA score(s), 0 new weekly sample(s), 0 audit entr(ies)" in again.output
    engine = db.make_engine(db_url)
    with engine.connect() as conn:
        assert count_calls(conn, CallFilter(agent="1001", outcome="answered")) == 40
        assert get_call(conn, "old-7")["queue"] == "support"  # type: ignore[index]
        assert conn.execute(select(func.count()).select_from(ScoreRow)).scalar_one() == 3
        current = conn.execute(select(ScoreRow.id).where(ScoreRow.call_id == "old-1",
                                                         ScoreRow.superseded_by.is_(None))).all()
        assert len(current) == 1
        assert conn.execute(select(func.count()).select_from(AuditRow)).scalar_one() == 5
        assert json.loads(samples.get(conn, "2026-W10") or "{}")["seed"] == 7
        moved = conn.execute(select(CallbackRow.number, CallbackRow.status, CallbackRow.attempts)).all()
        assert [tuple(m) for m in moved] == [("13800000001", "done", 1)]  # the open one stays in Redis only
    engine.dispose()
    r = redis.Redis.from_url(redis_url)
    assert 0 < r.ttl(keys.call("old-3")) <= 7 * 86400  # moved: Redis keeps it days, not months
    assert r.zcard(keys.RECORDS_PENDING) == 0 and r.zcard(keys.CALLBACKS_FINISHED) == 0


@pytest.mark.timeout(30)
def test_migrate_redis_names_an_unreachable_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("IVR_DATABASE_URL", raising=False)
    done = CliRunner().invoke(build_app(), ["db", "migrate-redis"])
    assert done.exit_code == 1 and "127.0.0.1:1" in done.output
