"""Two dialers (two nodes) claiming the same callbacks at once against a real redis-server: each
callback is claimed exactly once, only by the node holding the leader lease when the lease is given,
and a dial is recorded once whichever of the two (its dialer, or the new leader's orphan handling)
tries to record it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio

from ivr import keys
from ivr.queueing.callbacks import CallbackRequest, CallbackStore

pytestmark = pytest.mark.timeout(20)
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
async def r(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def booked(store: CallbackStore, n: int) -> list[CallbackRequest]:
    out = []
    for i in range(n):
        cb = await store.request("support", f"138{i:08d}", f"call-{i}", 1000.0 + i, NOW)
        assert isinstance(cb, CallbackRequest)
        out.append(cb)
    return out


async def test_two_concurrent_dialers_claim_each_callback_once(r: redis.asyncio.Redis) -> None:
    a, b = CallbackStore(r), CallbackStore(redis.asyncio.Redis(connection_pool=r.connection_pool))
    cbs = await booked(a, 50)
    claims = await asyncio.gather(*(store.claim(cb.id, NOW, node=name) for cb in cbs
                                    for store, name in ((a, "a"), (b, "b"))))
    won = [c for c in claims if c is not None]
    assert len(won) == 50
    assert all((claims[2 * i] is None) != (claims[2 * i + 1] is None) for i in range(50))


async def test_only_the_lease_holder_claims(r: redis.asyncio.Redis) -> None:
    store = CallbackStore(r)
    [cb] = await booked(store, 1)
    await r.set(keys.LEADER, "b", px=3000)
    assert await store.claim(cb.id, NOW, node="a", lease_key=keys.LEADER) is None  # a lost the lease
    assert await store.claim(cb.id, NOW, node="b", lease_key=keys.LEADER)


async def test_a_dial_is_recorded_once_by_its_dialer_or_the_orphan_handler(r: redis.asyncio.Redis) -> None:
    store = CallbackStore(r)
    [cb] = await booked(store, 1)
    token = await store.claim(cb.id, NOW, node="a")
    assert token
    results = await asyncio.gather(
        store.record_attempt(cb.id, "answered", NOW, {"by": "dialer"}, token=token),
        store.record_attempt(cb.id, "answered", NOW, {"by": "orphan handler"}, token=token))
    assert sorted(results, key=str) == [None, "done"]
    assert len(await store.attempts(cb.id)) == 1
