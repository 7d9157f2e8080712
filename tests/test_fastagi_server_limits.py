"""The FastAGI server's limits and lifecycle over real TCP sockets: the concurrency limit, unknown
scripts, a silent Asterisk, draining at stop and SIGTERM, and settings it refuses."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from agi.channel import AgiChannel
from agi.server import FastAgiServer, Handler
from tests.support.agi_peer import FakeAsterisk, MakeServer, eventually, fastagi_servers


@pytest.fixture
async def make_server() -> AsyncIterator[MakeServer]:
    async with fastagi_servers() as make:
        yield make


@pytest.mark.timeout(15)
async def test_concurrency_limit_refuses_then_accepts_again(
    make_server: Callable[..., Awaitable[FastAgiServer]], caplog: pytest.LogCaptureFixture
) -> None:
    async def hotline(ch: AgiChannel) -> None:
        await ch.answer()

    server = await make_server({"hotline": hotline}, max_calls=2)
    first = await FakeAsterisk.call(server.port, uniqueid="1.1")
    second = await FakeAsterisk.call(server.port, uniqueid="1.2")
    assert await first.heard() == "ANSWER" and await second.heard() == "ANSWER"
    assert server.active_calls == 2

    start = time.monotonic()
    third = await FakeAsterisk.call(server.port, uniqueid="1.3")
    assert await third.rest() == ["FAILURE"]  # refused at once, not queued
    assert time.monotonic() - start < 1
    assert server.counters.refused_busy == 1
    assert any("max_calls=2" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)

    await first.say("200 result=0")
    assert await first.rest() == []
    await eventually(lambda: server.active_calls == 1)
    fourth = await FakeAsterisk.call(server.port, uniqueid="1.4")
    await fourth.exchange("ANSWER", "200 result=0")
    await second.say("200 result=0")
    assert await fourth.rest() == [] and await second.rest() == []
    await eventually(lambda: server.counters.completed == 3)


@pytest.mark.timeout(10)
async def test_unknown_script_is_refused(
    make_server: Callable[..., Awaitable[FastAgiServer]], caplog: pytest.LogCaptureFixture
) -> None:
    async def hotline(ch: AgiChannel) -> None:
        await ch.answer()

    server = await make_server({"hotline": hotline})
    fake = await FakeAsterisk.call(server.port, script="/nosuch?x=1", uniqueid="9.9")
    assert await fake.rest() == ["FAILURE"]
    assert server.counters.refused_unknown == 1
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "'nosuch'" in warning.getMessage() and "9.9" in warning.getMessage()


@pytest.mark.timeout(10)
async def test_silent_asterisk_times_out(
    make_server: Callable[..., Awaitable[FastAgiServer]], caplog: pytest.LogCaptureFixture
) -> None:
    async def hotline(ch: AgiChannel) -> None:
        await ch.answer()

    server = await make_server({"hotline": hotline}, read_timeout=0.3, refuse_linger=0.2)
    fake = await FakeAsterisk.call(server.port)
    assert await fake.heard() == "ANSWER"
    start = time.monotonic()
    assert await fake.rest() == ["FAILURE"]
    assert 0.2 < time.monotonic() - start < 2
    assert server.counters.failed == 1
    assert any("ANSWER" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)

    silent = await FakeAsterisk.connect(server.port)  # not even a header
    assert await silent.rest() == ["FAILURE"]
    assert server.counters.bad_header == 1


@pytest.mark.timeout(15)
async def test_stop_drains_the_call_in_progress_and_refuses_new_ones(
    make_server: Callable[..., Awaitable[FastAgiServer]]
) -> None:
    async def hotline(ch: AgiChannel) -> None:
        await ch.answer()
        await ch.stream_file("goodbye")

    server = await make_server({"hotline": hotline}, drain_timeout=5)
    port = server.port
    fake = await FakeAsterisk.call(port)
    assert await fake.heard() == "ANSWER"
    stopping = asyncio.create_task(server.stop(drain=True))
    await asyncio.sleep(0.2)
    with pytest.raises(ConnectionRefusedError):
        await FakeAsterisk.connect(port)
    assert not stopping.done()
    await fake.say("200 result=0")
    await fake.exchange('STREAM FILE goodbye ""', "200 result=0 endpos=10")
    assert await fake.rest() == []
    await asyncio.wait_for(stopping, 5)
    assert server.counters.completed == 1 and server.counters.cancelled == 0


@pytest.mark.timeout(15)
async def test_drain_timeout_cancels_with_failure(make_server: Callable[..., Awaitable[FastAgiServer]]) -> None:
    async def hotline(ch: AgiChannel) -> None:
        await ch.exec("Queue", "hotline")

    server = await make_server({"hotline": hotline}, drain_timeout=0.3, refuse_linger=0.5)
    fake = await FakeAsterisk.call(server.port)
    assert await fake.heard() == "EXEC Queue hotline"
    start = time.monotonic()
    await server.stop(drain=True)
    assert time.monotonic() - start < 3
    assert await fake.rest() == ["FAILURE"]
    assert server.counters.cancelled == 1 and server.active_calls == 0


@pytest.mark.timeout(15)
async def test_sigterm_drains(make_server: Callable[..., Awaitable[FastAgiServer]]) -> None:
    async def hotline(ch: AgiChannel) -> None:
        await ch.answer()

    server = await make_server({"hotline": hotline})
    server.install_signal_handlers()
    forever = asyncio.create_task(server.serve_forever())
    fake = await FakeAsterisk.call(server.port)
    assert await fake.heard() == "ANSWER"
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.sleep(0.2)
    assert not forever.done()  # still draining the call
    await fake.say("200 result=0")
    assert await fake.rest() == []
    await asyncio.wait_for(forever, 5)
    assert server.counters.completed == 1


def test_bad_settings_are_named() -> None:
    routes: dict[str, Handler] = {}
    resolve = routes.get
    with pytest.raises(ValueError, match="max_calls"):
        FastAgiServer(resolve, max_calls=0)
    with pytest.raises(ValueError, match="read_timeout"):
        FastAgiServer(resolve, read_timeout=0)
