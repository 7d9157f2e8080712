from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from ivr.state.redis import RedisHub
from tests.support.components import RedisServer

pytestmark = pytest.mark.timeout(30)


async def test_hub_connects_and_reuses_client(redis_url: str) -> None:
    hub = RedisHub(redis_url)
    try:
        client = await hub.client()
        assert client is not None and hub.healthy
        assert await client.ping()
        assert await hub.client() is client
    finally:
        await hub.close()


async def test_hub_down_then_up_with_backoff(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)  # not started yet: nothing listens on its port
    hub = RedisHub(server.url, connect_timeout=0.2, backoff_min=0.2, backoff_max=0.4)
    try:
        t0 = time.monotonic()
        assert await hub.client() is None
        assert await hub.client() is None  # inside the backoff: no new attempt
        assert time.monotonic() - t0 < 1.0
        server.start()
        await asyncio.sleep(0.5)
        client = await hub.client()
        assert client is not None and await client.ping()
        # Outage: an operation fails, the caller reports it, the hub answers None at once.
        server.stop()
        with pytest.raises((aioredis.ConnectionError, OSError)):
            await client.set("k", "v")
        hub.mark_down("set failed")
        assert not hub.healthy and await hub.client() is None
        server.start()
        await asyncio.sleep(0.5)
        again = await hub.client()
        assert again is not None and await again.set("k", "v")
    finally:
        await hub.close()
        server.stop()


async def test_hub_slow_server_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)
        writer.close()

    srv = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    hub = RedisHub(f"redis://127.0.0.1:{port}/0", socket_timeout=0.3, connect_timeout=0.3)
    try:
        t0 = time.monotonic()
        assert await hub.client() is None
        assert time.monotonic() - t0 < 1.5
    finally:
        srv.close()
        await hub.close()


def test_url_password_not_logged() -> None:
    hub = RedisHub("redis://:s3cret@127.0.0.1:1/0")
    assert "s3cret" not in hub._safe_url()
