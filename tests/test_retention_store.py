"""Retention of the Redis side of customer data (audit log, QA scores, QA samples) on a real Redis,
each at its exact boundary: what is at the cutoff goes, one second younger stays. The data is
written by the dashboard's own code, so the purge reads the layout that is really there."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
from pydantic import ValidationError
from redis.asyncio import Redis as AsyncRedis

from bench.records_baseline import ScoreStore
from dashboard.audit import AuditLog
from dashboard.records_db import RecordsDb
from dashboard.sampling import Sample
from dashboard.scoring import ScoreInput
from ivr import keys
from ivr.clock import FixedClock
from ivr.retention_store import StoreRetentionError, purge_store
from ivr.settings import load_settings

pytestmark = pytest.mark.timeout(30)
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2027, 3, 1, 0, 0, tzinfo=TZ)  # a Monday 00:00
KPIS = {"answering": 80, "accuracy": 80, "handling": 80, "satisfaction": 80}


@pytest.fixture
def conn(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def run_async(redis_url: str, work: object) -> None:
    async def go() -> None:
        r = AsyncRedis.from_url(redis_url, decode_responses=True)
        try:
            await work(r)  # type: ignore[operator]
        finally:
            await r.aclose()

    asyncio.run(go())


def purge(conn: redis.Redis, now: datetime, *, audit_days: int = 365, qa_days: int = 365,
          dry_run: bool = False) -> dict[str, int]:
    return purge_store(conn, now, audit_days=audit_days, qa_days=qa_days, timezone="Asia/Shanghai",
                       dry_run=dry_run).removed


def test_settings_and_purge_refuse_periods_below_the_policy() -> None:
    for name, least in (("audit_retention_days", 365), ("qa_retention_days", 365), ("voicemail_retention_days", 90)):
        with pytest.raises(ValidationError, match=f"{name}={least - 1}: .* kept at least {least} days"):
            load_settings(**{name: least - 1})
        assert getattr(load_settings(**{name: least}), name) == least
    with pytest.raises(StoreRetentionError, match="audit_retention_days=364 refused"):
        purge_store(redis.Redis(), NOW, audit_days=364, qa_days=365, timezone="Asia/Shanghai")


def test_audit_entries_at_the_cutoff_go_younger_stay(redis_url: str, conn: redis.Redis, tmp_path: Path) -> None:
    cutoff = NOW - timedelta(days=365)
    moments = [cutoff - timedelta(days=30), cutoff, cutoff + timedelta(seconds=1), NOW]
    db = RecordsDb(load_settings(state_dir=tmp_path))

    async def write(r: AsyncRedis) -> None:
        for i, at in enumerate(moments):
            await AuditLog(r, FixedClock(at), db).record("sup", "supervisor", "listen", f"call-{i}")

    run_async(redis_url, write)
    assert purge(conn, NOW, dry_run=True)["audit"] == 2 and conn.llen(keys.AUDIT_LOG) == 4
    assert purge(conn, NOW)["audit"] == 2
    left = conn.lrange(keys.AUDIT_LOG, 0, -1)
    assert ['"call-2"' in e for e in left] == [True, False] and '"call-3"' in left[1]
    assert purge(conn, NOW + timedelta(seconds=1))["audit"] == 1  # one second later it is at the cutoff


def test_qa_scores_go_by_call_once_the_newest_is_at_the_cutoff(redis_url: str, conn: redis.Redis) -> None:
    cutoff = NOW - timedelta(days=365)
    old, edge, young = cutoff - timedelta(days=10), cutoff, cutoff + timedelta(seconds=1)

    async def write(r: AsyncRedis) -> None:
        store = ScoreStore(r)
        first = await store.submit("c-gone", "1001", "2026-W08", "sup", ScoreInput(kpis=KPIS), old.timestamp())
        await store.submit("c-gone", "1001", "2026-W08", "boss", ScoreInput(
            kpis=KPIS, supersedes=first.id, reason="recount"), edge.timestamp())
        kept = await store.submit("c-kept", "1002", "2026-W08", "sup", ScoreInput(kpis=KPIS), old.timestamp())
        # superseded one second after the cutoff: the old score is part of a chain that stays
        await store.submit("c-kept", "1002", "2026-W08", "boss", ScoreInput(
            kpis=KPIS, supersedes=kept.id, reason="recount"), young.timestamp())

    run_async(redis_url, write)
    assert purge(conn, NOW)["qa_scores"] == 2
    assert conn.llen(keys.qa_call_scores("c-gone")) == 0 and conn.llen(keys.qa_call_scores("c-kept")) == 2
    assert conn.zcard(keys.QA_SCORES) == 2
    left = [conn.get(k) or "" for k in conn.keys(keys.qa_score("*"))]
    assert len(left) == 2 and all('"call_id":"c-kept"' in s for s in left), left
    assert purge(conn, NOW + timedelta(seconds=1))["qa_scores"] == 2  # now the chain's newest is at the cutoff
    assert conn.zcard(keys.QA_SCORES) == 0 and not conn.keys(keys.qa_score("*"))


def test_qa_samples_go_once_their_whole_week_is_past_the_cutoff(redis_url: str, conn: redis.Redis) -> None:
    # Week 2026-W09 ends Monday 2026-03-02 00:00 local; with 365 days that is the cutoff at NOW + 1 day.
    # Samples drawn before the records database are in Redis (new ones are in SQL: ivr.records.retention).
    for week in ["2026-W08", "2026-W09", "2026-W10"]:
        conn.set(keys.qa_sample(week), Sample(week=week, seed=1, drawn_at=NOW.timestamp(), per_agent=0,
                                              spot_checks=0, population=0, population_digest="",
                                              reviewers=[], items=[]).to_json())
    conn.set(keys.qa_sample("not-a-week"), "{}")
    boundary = datetime(2026, 3, 2, 0, 0, tzinfo=TZ) + timedelta(days=365)
    assert purge(conn, boundary - timedelta(seconds=1))["qa_samples"] == 1  # W08 only
    assert purge(conn, boundary)["qa_samples"] == 1  # W09 at the exact end of its week
    assert sorted(conn.keys(keys.QA_SAMPLE_PATTERN)) == sorted([keys.qa_sample("2026-W10"),
                                                                keys.qa_sample("not-a-week")])
