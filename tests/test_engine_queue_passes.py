"""The engine's Queue() passes as the AMI listener sees them (ivr.queueing.passes, in a real Redis: the
engine and the listener may run on different nodes), and the dialplan's queue exit keys against
queues.yaml. Event fields are those app_queue publishes (QueueCallerJoin/Abandon/Leave); the
end-to-end counters against real Asterisk are in tests/e2e/test_queue_listener.py."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from ivr.queueing.config import load_queue_config
from ivr.queueing.passes import QueuePasses, filter_event, take_released
from ivr.settings import REPO_ROOT

pytestmark = pytest.mark.timeout(10)
UID = "1700000000.7"
TTL = 600


def ev(name: str, **fields: Any) -> dict[str, str]:
    return {"Event": name, "Queue": "support", "Uniqueid": UID, **{k: str(v) for k, v in fields.items()}}


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def passes(redis: aioredis.Redis) -> QueuePasses:
    async def get() -> aioredis.Redis:
        return redis
    return QueuePasses(get, ttl_s=TTL)


async def seen(redis: aioredis.Redis, e: dict[str, str], now: float, ident: str = "") -> list[dict[str, str]]:
    return await filter_event(redis, e, now, TTL, ident)


async def test_announcement_break_is_not_an_abandon_and_reentry_is_not_offered(
        redis: aioredis.Redis, passes: QueuePasses) -> None:
    await passes.begin(UID, "support", 8)
    assert await seen(redis, ev("QueueCallerJoin", Position=1), 100.0) == [ev("QueueCallerJoin", Position=1)]
    assert await seen(redis, ev("QueueCallerAbandon", HoldTime=8, Position=1), 108.0) == []
    assert await seen(redis, ev("QueueCallerLeave", Position=1), 108.0) == []
    await passes.begin(UID, "support", 30)
    again = await seen(redis, ev("QueueCallerJoin", Position=1), 112.0)
    assert [e["Event"] for e in again] == ["QueueEntry"] and float(again[0]["Wait"]) == pytest.approx(12.0)
    await passes.finish(UID, "answered")
    assert await take_released(redis) == []


async def test_a_late_abandon_of_the_previous_pass_is_still_ours(redis: aioredis.Redis, passes: QueuePasses) -> None:
    """The engine began the next, longer pass before the listener saw the last one's timeout."""
    await passes.begin(UID, "support", 8)
    await seen(redis, ev("QueueCallerJoin"), 100.0)
    await passes.begin(UID, "support", 30)
    assert await seen(redis, ev("QueueCallerAbandon", HoldTime=8), 108.5) == []
    assert await seen(redis, ev("QueueCallerLeave"), 108.5) == []
    again = await seen(redis, ev("QueueCallerJoin"), 112.0)
    assert [e["Event"] for e in again] == ["QueueEntry"]
    await passes.finish(UID, "answered")
    assert await take_released(redis) == []


async def test_hangup_during_an_announcement_releases_the_held_abandon(
        redis: aioredis.Redis, passes: QueuePasses) -> None:
    await passes.begin(UID, "support", 8)
    await seen(redis, ev("QueueCallerJoin"), 100.0)
    await seen(redis, ev("QueueCallerAbandon", HoldTime=9), 109.0)
    await seen(redis, ev("QueueCallerLeave"), 109.0)
    await passes.finish(UID, "hangup")
    assert [e["Event"] for e in await take_released(redis)] == ["QueueCallerAbandon", "QueueCallerLeave"]
    assert await take_released(redis) == []  # taken once


async def test_a_callback_releases_only_the_leave(redis: aioredis.Redis, passes: QueuePasses) -> None:
    await passes.begin(UID, "support", 8)
    await seen(redis, ev("QueueCallerJoin"), 100.0)
    await seen(redis, ev("QueueCallerAbandon", HoldTime=8), 108.0)
    await seen(redis, ev("QueueCallerLeave"), 108.0)
    await passes.finish(UID, "callback")
    assert [e["Event"] for e in await take_released(redis)] == ["QueueCallerLeave"]


async def test_overflow_into_another_queue_releases_the_first_queues_leave(
        redis: aioredis.Redis, passes: QueuePasses) -> None:
    await passes.begin(UID, "support", 8)
    await seen(redis, ev("QueueCallerJoin"), 100.0)
    await seen(redis, ev("QueueCallerAbandon", HoldTime=8), 108.0)
    await seen(redis, ev("QueueCallerLeave"), 108.0)
    await passes.begin(UID, "complaints", 8)
    assert [e["Event"] for e in await take_released(redis)] == ["QueueCallerLeave"]
    join = {**ev("QueueCallerJoin"), "Queue": "complaints"}
    assert await seen(redis, join, 109.0) == [join]  # offered in the new queue


async def test_a_real_abandon_mid_pass_passes_through(redis: aioredis.Redis, passes: QueuePasses) -> None:
    await passes.begin(UID, "support", 30)
    await seen(redis, ev("QueueCallerJoin"), 100.0)
    assert await seen(redis, ev("QueueCallerAbandon", HoldTime=4), 104.0) == [ev("QueueCallerAbandon", HoldTime=4)]
    assert await seen(redis, ev("QueueCallerLeave"), 104.0) == [ev("QueueCallerLeave")]


async def test_events_after_the_engine_finished_are_judged_by_its_outcome(
        redis: aioredis.Redis, passes: QueuePasses) -> None:
    await passes.begin(UID, "support", 8)
    await seen(redis, ev("QueueCallerJoin"), 100.0)
    await passes.finish(UID, "overflow")  # the AGI reply came before the AMI events
    assert await seen(redis, ev("QueueCallerAbandon", HoldTime=8), 108.0) == []
    assert await seen(redis, ev("QueueCallerLeave"), 108.0) == [ev("QueueCallerLeave")]
    other = "1700000000.8"
    await passes.begin(other, "support", 8)
    join = {**ev("QueueCallerJoin"), "Uniqueid": other}
    await seen(redis, join, 100.0)
    await passes.finish(other, "timeout")
    abandon = {**ev("QueueCallerAbandon", HoldTime=8), "Uniqueid": other}
    assert await seen(redis, abandon, 108.0) == [abandon]


async def test_after_the_engine_gave_up_a_fallback_queue_is_a_new_wait(
        redis: aioredis.Redis, passes: QueuePasses) -> None:
    await passes.begin(UID, "support", 8)
    await seen(redis, ev("QueueCallerJoin"), 100.0)
    await passes.finish(UID, "error")  # the flow failed: the dialplan's fallback queue takes the caller
    assert await seen(redis, ev("QueueCallerJoin"), 103.0) == [ev("QueueCallerJoin")]
    assert await seen(redis, ev("QueueCallerAbandon", HoldTime=20), 123.0) == [ev("QueueCallerAbandon", HoldTime=20)]


async def test_an_event_filtered_twice_gets_the_same_verdict_and_counts_once(
        redis: aioredis.Redis, passes: QueuePasses) -> None:
    """A new leader replays the event the old one filtered but died before applying."""
    await passes.begin(UID, "support", 8)
    join = ev("QueueCallerJoin")
    assert await seen(redis, join, 100.0, "100.0|join") == [join]
    assert await seen(redis, join, 100.0, "100.0|join") == [join]  # not taken for a re-entry
    assert await seen(redis, ev("QueueCallerAbandon", HoldTime=8), 108.0, "108|ab") == []
    assert await seen(redis, ev("QueueCallerAbandon", HoldTime=8), 108.0, "108|ab") == []
    await passes.finish(UID, "hangup")
    assert [e["Event"] for e in await take_released(redis)] == ["QueueCallerAbandon"]  # held once


async def test_callers_the_engine_does_not_queue_are_untouched(redis: aioredis.Redis) -> None:
    for e in (ev("QueueCallerJoin"), ev("QueueCallerAbandon", HoldTime=300), ev("QueueCallerLeave")):
        assert await seen(redis, e, 1.0) == [e]


async def test_without_redis_the_engine_goes_on() -> None:
    async def down() -> None:
        return None
    passes = QueuePasses(down)  # type: ignore[arg-type]
    await passes.begin(UID, "support", 8)
    await passes.finish(UID, "hangup")
    assert passes.lost == 2


def test_only_the_callback_keys_leave_the_queue_in_the_dialplan() -> None:
    cfg = load_queue_config(REPO_ROOT / "ivr" / "flows" / "queues.yaml")
    keys = {q.callback.key for q in cfg.queues.values() if q.callback.enabled}
    text = (REPO_ROOT / "asterisk-config" / "extensions.conf").read_text(encoding="utf-8")
    section = text.split("[ivr-queue-exit]", 1)[1].split("\n[", 1)[0]
    extensions = set(re.findall(r"^exten => ([^,]+),1,", section, flags=re.M))
    assert extensions == keys
