"""The leader lease against a real redis-server: one holder at a time, a standby takes over within
5 s of the holder's death, a partitioned holder stops acting before anyone else can hold the key, and
writes fenced by the lease are refused to a node that lost it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from ivr import keys
from ivr.state.lease import LeaderLease, current_leader, fenced_apply
from ivr.state.ops import HIncr
from ivr.state.redis import RedisHub

pytestmark = pytest.mark.timeout(30)


class Cuttable:
    """A TCP proxy to Redis whose link we can cut: bytes stop flowing both ways (a partition)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.open = asyncio.Event()
        self.open.set()
        self.server: asyncio.Server | None = None
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._conn, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _conn(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        ur, uw = await asyncio.open_connection("127.0.0.1", self.port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    await self.open.wait()  # a partition delivers nothing, either way
                    dst.write(data)
                    await dst.drain()
            dst.close()

        self.tasks.append(asyncio.current_task())  # type: ignore[arg-type]
        await asyncio.gather(pipe(r, uw), pipe(ur, w))

    def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for t in self.tasks:
            t.cancel()


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    c = aioredis.Redis.from_url(redis_url)
    yield c
    await c.aclose()


def getter(c: aioredis.Redis | None):  # type: ignore[no-untyped-def]
    async def get() -> aioredis.Redis | None:
        return c
    return get


async def test_one_holder_and_only_the_holder_renews_or_releases(client: aioredis.Redis) -> None:
    a = LeaderLease(getter(client), "a", lease_s=3, renew_s=1)
    b = LeaderLease(getter(client), "b", lease_s=3, renew_s=1)
    assert await a.step() and not await b.step()
    assert await current_leader(client) == "a"
    await b.release()  # not b's lease: nothing happens
    assert await current_leader(client) == "a"
    await asyncio.sleep(0.2)
    assert await a.step()
    assert 2800 < await client.pttl(keys.LEADER) <= 3000  # renewed
    await a.release()
    assert await current_leader(client) is None and not a.leading
    assert await b.step()


async def test_a_standby_leads_within_5_s_of_the_holders_death(client: aioredis.Redis) -> None:
    a = LeaderLease(getter(client), "a", lease_s=3, renew_s=1)
    b = LeaderLease(getter(client), "b", lease_s=3, renew_s=1)
    gained = asyncio.Event()

    async def on_gain() -> None:
        gained.set()

    b.on_gain.append(on_gain)
    ta = asyncio.create_task(a.run())
    await asyncio.sleep(0.3)
    tb = asyncio.create_task(b.run())
    await asyncio.sleep(1.5)
    assert a.leading and not b.leading
    ta.cancel()  # the holder dies without releasing (its run() is gone; the key stays until it expires)
    died = time.monotonic()
    a._valid_until = 0.0
    await asyncio.wait_for(gained.wait(), 6)
    took = time.monotonic() - died
    tb.cancel()
    await asyncio.gather(ta, tb, return_exceptions=True)
    assert took < 5.0, f"standby took {took:.2f} s"
    assert took > 1.0  # it waited for the lease to expire: it did not steal a live lease


async def test_a_partitioned_holder_stops_before_anyone_else_can_lead(redis_url: str,
                                                                       client: aioredis.Redis) -> None:
    proxy = Cuttable(int(redis_url.rsplit(":", 1)[1].split("/")[0]))
    port = await proxy.start()
    hub = RedisHub(f"redis://127.0.0.1:{port}/0", socket_timeout=0.3, connect_timeout=0.3)
    a = LeaderLease(hub.client, "a", lease_s=3, renew_s=1)
    b = LeaderLease(getter(client), "b", lease_s=3, renew_s=1)
    lost_at: list[float] = []

    async def on_loss() -> None:
        lost_at.append(time.monotonic())

    a.on_loss.append(on_loss)
    ta = asyncio.create_task(a.run())
    await asyncio.sleep(1.2)
    assert a.leading
    proxy.open.clear()
    cut = time.monotonic()
    b_led_at = a_stopped_at = None
    while time.monotonic() - cut < 6:
        if a_stopped_at is None and not a.leading:
            a_stopped_at = time.monotonic()
        if await b.step():
            b_led_at = time.monotonic()
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    ta.cancel()
    await asyncio.gather(ta, return_exceptions=True)
    await hub.close()
    proxy.close()
    assert a_stopped_at is not None and b_led_at is not None
    assert a_stopped_at < b_led_at, "two leaders at once: a still acted when b took the lease"
    assert a_stopped_at - cut < 3.0 and b_led_at - cut < 5.0
    assert lost_at and lost_at[0] - a_stopped_at < 0.5  # a's hooks (stop dialing) ran at once


async def test_fenced_writes_only_from_the_holder(client: aioredis.Redis) -> None:
    a = LeaderLease(getter(client), "a", lease_s=3, renew_s=1)
    b = LeaderLease(getter(client), "b", lease_s=3, renew_s=1)
    await a.step()
    assert await fenced_apply(client, a, [HIncr("t:counter", "n")])
    b._valid_until = time.monotonic() + 10  # b wrongly believes it leads (a stale local view)
    assert not await fenced_apply(client, b, [HIncr("t:counter", "n")])
    await client.delete(keys.LEADER)  # a's lease expired in Redis while a still thinks it holds it
    await b.step()
    assert not await fenced_apply(client, a, [HIncr("t:counter", "n")])
    assert await client.hget("t:counter", "n") == b"1"


def test_renewing_less_than_twice_per_lease_is_refused() -> None:
    with pytest.raises(ValueError, match="at most half"):
        LeaderLease(getter(None), "a", lease_s=3, renew_s=2)
