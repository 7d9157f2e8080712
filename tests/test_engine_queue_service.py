"""`ivr serve` with live queues while Asterisk's AMI is not reachable yet: the service starts and
answers FastAGI connections at once, the listener keeps trying in the background, the node takes the
leader lease and runs the callback dialer, and stopping the service ends the listener, the lease and
the dialer (tracked tasks) and gives the lease up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis.asyncio

from ivr import keys
from ivr.clock import FixedClock
from ivr.service import HotlineService
from ivr.settings import load_settings
from tests.e2e.conftest import MONDAY_10AM
from tests.support.components import free_port

pytestmark = pytest.mark.timeout(120)


async def test_serves_without_ami_and_keeps_trying(
    redis_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = load_settings(
        redis_url=redis_url, agi_port=free_port(), ami_port=free_port(), state_dir=tmp_path,
        recordings_dir=tmp_path / "recordings", callback_poll_s=0.2,
        prompts_dir=Path(tmp_path_factory.getbasetemp()).parent / "prompts-cache",
    )
    service = HotlineService(settings, clock=FixedClock(MONDAY_10AM))
    await asyncio.wait_for(service.start(), 90)
    try:
        listener, dialer = service.listener, service.dialer
        _reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", settings.agi_port), 2)
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(1.5)  # several connection attempts and dialer polls
        assert not listener.connected.is_set() and listener.sessions == 0
        # running, and nothing crashed for want of AMI
        assert {"ami-listener", "leader-lease", "flow-watch"} <= set(service.tasks.names)
        assert service.lease.leading and service.leader_tasks.names == ["callback-dialer"]
        assert not service.tasks.deaths
        assert dialer.attempts == 0

        async def dies() -> None:
            raise RuntimeError("a bug")

        service.tasks.spawn("probe", dies)  # a death reaches Redis, for the dashboard's /metrics
        client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
        try:
            async with asyncio.timeout(5):
                while await client.hget(keys.TASK_DEATHS, "probe") is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        finally:
            await client.aclose()
    finally:
        await asyncio.wait_for(service.stop(drain=False), 30)
    assert service.tasks.names == [] and service.leader_tasks.names == []
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        assert await client.get(keys.LEADER) is None  # released: a standby need not wait for it to expire
    finally:
        await client.aclose()
