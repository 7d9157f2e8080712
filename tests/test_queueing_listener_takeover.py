"""Two AMI listeners (two nodes) on one real redis-server: only the lease holder applies events; the
standby keeps what it hears and, when it takes over, replays exactly the events the dead leader had
not applied (identified by Asterisk's Timestamp), so the day's counters count each caller once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis

from ivr import keys
from ivr.queueing.config import load_queue_config
from ivr.queueing.listener import QueueListener
from ivr.schedule import load_schedules
from ivr.settings import REPO_ROOT, load_settings
from ivr.state.lease import LeaderLease
from tests.support.components import free_port

pytestmark = pytest.mark.timeout(30)
FLOWS = REPO_ROOT / "ivr" / "flows"


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    c = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield c
    await c.aclose()


def join(uid: str, ts: float) -> dict[str, str]:
    return {"Event": "QueueCallerJoin", "Queue": "support", "Uniqueid": uid, "Position": "1",
            "CallerIDNum": "13900000001", "Timestamp": f"{ts:.6f}"}


async def offered(client: aioredis.Redis, ts: float) -> int:
    day = datetime.fromtimestamp(ts, tz=ZoneInfo("Asia/Shanghai")).date().isoformat()
    return int(await client.hget(keys.queue_day("support", day), "offered") or 0)


async def until(cond: Callable[[], Awaitable[bool] | bool]) -> None:
    async with asyncio.timeout(5):
        while not await _value(cond()):  # noqa: ASYNC110 - polling Redis, which has no event to wait on
            await asyncio.sleep(0.05)


async def test_the_standby_replays_only_what_the_dead_leader_had_not_applied(
        redis_url: str, client: aioredis.Redis, tmp_path: Path) -> None:
    settings = load_settings(redis_url=redis_url, ami_port=free_port(), state_dir=tmp_path)  # no AMI: events fed
    cfg = load_queue_config(FLOWS / "queues.yaml", schedules=load_schedules(FLOWS / "schedules.yaml"))
    raw = aioredis.Redis.from_url(redis_url)

    async def get() -> aioredis.Redis:
        return raw

    la, lb = (LeaderLease(get, n, lease_s=3, renew_s=1) for n in ("a", "b"))
    a = QueueListener(settings, cfg, get, lease=la, backoff_max_s=0.5)
    b = QueueListener(settings, cfg, get, lease=lb, backoff_max_s=0.5)
    runs = [asyncio.create_task(x.run()) for x in (a, b)]
    try:
        assert await la.step() and not await lb.step()
        await until(lambda: a.active)
        now = time.time()
        first = [join(f"u{i}", now + i * 0.001) for i in range(3)]
        for e in first:  # Asterisk sends every event to both sessions
            a._on_event(None, e)
            b._on_event(None, e)
        await until(lambda: _eq(offered(client, now), 3))
        assert b.active is False and await offered(client, now) == 3  # the standby applied nothing
        for task in runs[:1]:
            task.cancel()  # node a dies; its lease is left to expire
        la._valid_until = 0.0
        later = [join(f"u{i}", now + i * 0.001) for i in range(3, 5)]
        for e in later:  # only b hears these: a is dead
            b._on_event(None, e)
        await client.delete(keys.LEADER)  # the dead holder's lease expired
        assert await lb.step()
        await until(lambda: _eq(offered(client, now), 5))
        await asyncio.sleep(0.3)
        assert await offered(client, now) == 5  # 3 + 2: nothing twice, nothing lost
        assert b.duplicates == 3 and b.replayed == 2
        b._on_event(None, first[0])  # a late copy of an applied event is still recognised
        await asyncio.sleep(0.3)
        assert await offered(client, now) == 5 and b.duplicates == 4
    finally:
        for task in runs:
            task.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
        await raw.aclose()


async def _value(v: Awaitable[bool] | bool) -> bool:
    return v if isinstance(v, bool) else await v


async def _eq(aw: Awaitable[int], want: int) -> bool:
    return await aw == want
