"""The FastAGI server over real TCP sockets, driven by a peer that speaks Asterisk's side of the wire
protocol: a call's dialogue, hangups and dead channels, typed errors, malformed or cut-off lines."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from agi.channel import AgiChannel
from agi.protocol import (
    AgiDeadChannel,
    AgiError,
    AgiHangup,
    AgiInvalidCommand,
    AgiUsageError,
)
from agi.server import FastAgiServer
from tests.support.agi_peer import DEAD, FakeAsterisk, MakeServer, eventually, fastagi_servers


@pytest.fixture
async def make_server() -> AsyncIterator[MakeServer]:
    async with fastagi_servers() as make:
        yield make


@pytest.mark.timeout(10)
async def test_normal_dialogue(make_server: Callable[..., Awaitable[FastAgiServer]]) -> None:
    seen: dict[str, Any] = {}

    async def hotline(ch: AgiChannel) -> None:
        seen["env"] = dict(ch.env)
        seen["args"], seen["query"] = ch.args, ch.script_args
        await ch.answer()
        seen["digit"] = await ch.stream_file("prompts/welcome", "12")
        seen["data"] = await ch.get_data("prompts/menu", 5000, 1)
        seen["nothing"] = await ch.get_data("prompts/menu", 5000, 1)
        seen["wait"] = await ch.wait_for_digit(3000)
        await ch.set_variable("IVR_CHOICE", "3")
        seen["var"] = await ch.get_variable("CALLERID(name)")
        seen["unset"] = await ch.get_variable("NOPE")
        await ch.verbose('caller said "hi"', 3)
        seen["queue"] = await ch.exec("Queue", "hotline", "t")
        await ch.hangup()

    server = await make_server({"hotline": hotline})
    fake = await FakeAsterisk.call(server.port, "hotline?lang=en&vip=1", args=("first arg", "2"))
    await fake.exchange("ANSWER", "200 result=0")
    await fake.exchange('STREAM FILE prompts/welcome 12', "200 result=50 endpos=8000")
    await fake.exchange("GET DATA prompts/menu 5000 1", "200 result=3")
    await fake.exchange("GET DATA prompts/menu 5000 1", "200 result= (timeout)")
    await fake.exchange("WAIT FOR DIGIT 3000", "200 result=0")
    await fake.exchange("SET VARIABLE IVR_CHOICE 3", "200 result=1")
    await fake.exchange("GET VARIABLE CALLERID(name)", "200 result=1 (张 三 (VIP))")
    await fake.exchange("GET VARIABLE NOPE", "200 result=0")
    await fake.exchange('VERBOSE "caller said \\"hi\\"" 3', "200 result=1")
    await fake.exchange("EXEC Queue hotline,t", "100 result=0 Trying...", "200 result=0")
    await fake.exchange("HANGUP", "200 result=1")
    assert await fake.rest() == []  # closed without FAILURE: AGISTATUS=SUCCESS

    assert seen["digit"] == "2" and seen["data"] == "3" and seen["nothing"] == ""
    assert seen["wait"] is None and seen["var"] == "张 三 (VIP)" and seen["unset"] is None
    assert seen["queue"] == 0
    env = seen["env"]
    assert env["uniqueid"] == "1700000000.1" and env["callerid"] == "13800138000"
    assert env["calleridname"] == "张三" and env["accountcode"] == ""
    assert env["network_script_name"] == "hotline" and env["network_script_args"] == "lang=en&vip=1"
    assert not any(k.startswith("agi_") for k in env)
    assert seen["args"] == ["first arg", "2"] and seen["query"] == {"lang": "en", "vip": "1"}
    await eventually(lambda: server.counters.completed == 1)
    assert server.active_calls == 0
    summary = server.stats.summary()
    assert summary["GET DATA"]["count"] == 2 and summary["EXEC"]["count"] == 1
    assert server.stats.count == 11


@pytest.mark.timeout(10)
async def test_hangup_line_then_response_and_cleanup_on_dead_channel(
    make_server: Callable[..., Awaitable[FastAgiServer]], caplog: pytest.LogCaptureFixture
) -> None:
    caught: list[BaseException] = []

    async def hotline(ch: AgiChannel) -> None:
        try:
            await ch.stream_file("welcome")
        except AgiHangup as e:
            caught.append(e)
            await ch.set_variable("IVR_OUTCOME", "hangup")  # allowed on a dead channel
            raise

    server = await make_server({"hotline": hotline})
    fake = await FakeAsterisk.call(server.port)
    caplog.set_level(logging.INFO, logger="agi.server")
    await fake.exchange('STREAM FILE welcome ""', "HANGUP", "200 result=0 endpos=100")
    await fake.exchange("SET VARIABLE IVR_OUTCOME hangup", "200 result=1")
    assert await fake.rest() == []
    assert len(caught) == 1 and not isinstance(caught[0], AgiDeadChannel)
    await eventually(lambda: server.counters.hung_up == 1)
    records = [r for r in caplog.records if "caller hung up" in r.getMessage()]
    assert len(records) == 1 and records[0].levelno == logging.INFO and records[0].exc_info is None
    assert "1700000000.1" in records[0].getMessage()


@pytest.mark.timeout(10)
async def test_stream_file_minus_one_then_dead_channel(make_server: Callable[..., Awaitable[FastAgiServer]]) -> None:
    caught: list[BaseException] = []

    async def hotline(ch: AgiChannel) -> None:
        try:
            await ch.stream_file("welcome")
        except AgiError as e:
            caught.append(e)

    server = await make_server({"hotline": hotline})
    fake = await FakeAsterisk.call(server.port)
    await fake.exchange('STREAM FILE welcome ""', "200 result=-1 endpos=0")
    await fake.exchange("CHANNEL STATUS", "HANGUP", DEAD)
    assert await fake.rest() == []
    assert len(caught) == 1 and isinstance(caught[0], AgiDeadChannel)


@pytest.mark.timeout(10)
async def test_stream_file_minus_one_on_live_channel_is_a_missing_file(
    make_server: Callable[..., Awaitable[FastAgiServer]], caplog: pytest.LogCaptureFixture
) -> None:
    async def hotline(ch: AgiChannel) -> None:
        await ch.stream_file("no-such-file")

    server = await make_server({"hotline": hotline})
    fake = await FakeAsterisk.call(server.port)
    await fake.exchange('STREAM FILE no-such-file ""', "200 result=-1 endpos=0")
    await fake.exchange("CHANNEL STATUS", "200 result=6")
    assert await fake.rest() == ["FAILURE"]  # the dialplan falls back
    await eventually(lambda: server.counters.failed == 1)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and errors[0].exc_info is not None
    assert "no-such-file" in str(errors[0].exc_info[1])


@pytest.mark.timeout(10)
async def test_hangup_line_then_eof(make_server: Callable[..., Awaitable[FastAgiServer]]) -> None:
    async def hotline(ch: AgiChannel) -> None:
        await ch.get_data("menu", 5000, 1)

    server = await make_server({"hotline": hotline})
    fake = await FakeAsterisk.call(server.port)
    assert await fake.heard() == "GET DATA menu 5000 1"
    await fake.say("HANGUP")
    fake.close()
    await eventually(lambda: server.counters.hung_up == 1)
    assert server.active_calls == 0


@pytest.mark.timeout(10)
async def test_511_ends_the_call_as_a_hangup(make_server: Callable[..., Awaitable[FastAgiServer]]) -> None:
    async def hotline(ch: AgiChannel) -> None:
        await ch.answer()

    server = await make_server({"hotline": hotline})
    fake = await FakeAsterisk.call(server.port)
    await fake.exchange("ANSWER", DEAD)
    assert await fake.rest() == []
    await eventually(lambda: server.counters.hung_up == 1)


@pytest.mark.timeout(10)
async def test_510_and_520_are_typed_errors_and_the_call_goes_on(
    make_server: Callable[..., Awaitable[FastAgiServer]]
) -> None:
    caught: list[AgiError] = []

    async def hotline(ch: AgiChannel) -> None:
        for line in ("FROB NICATE", "STREAM FILE"):
            try:
                await ch.command(line)
            except (AgiInvalidCommand, AgiUsageError) as e:
                caught.append(e)
        await ch.answer()

    server = await make_server({"hotline": hotline})
    fake = await FakeAsterisk.call(server.port)
    await fake.exchange("FROB NICATE", "510 Invalid or unknown command")
    await fake.exchange("STREAM FILE", "520-Invalid command syntax.  Proper usage follows:",
                        " Usage: STREAM FILE <filename> <escape_digits> [sample offset]",
                        "520 End of proper usage.")
    await fake.exchange("ANSWER", "200 result=0")
    assert await fake.rest() == []
    assert isinstance(caught[0], AgiInvalidCommand) and isinstance(caught[1], AgiUsageError)
    assert isinstance(caught[1], AgiUsageError) and "STREAM FILE <filename>" in caught[1].usage


@pytest.mark.timeout(10)
async def test_bad_header_line_is_refused(
    make_server: Callable[..., Awaitable[FastAgiServer]], caplog: pytest.LogCaptureFixture
) -> None:
    called: list[str] = []

    async def hotline(ch: AgiChannel) -> None:
        called.append(ch.call_id)

    server = await make_server({"hotline": hotline})
    fake = await FakeAsterisk.connect(server.port)
    await fake.say("agi_network: yes", "GET / HTTP/1.0", "")
    assert await fake.rest() == ["FAILURE"]
    assert called == [] and server.counters.bad_header == 1
    assert any("GET / HTTP/1.0" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


@pytest.mark.timeout(10)
async def test_garbage_response_fails_the_call_with_traceback(
    make_server: Callable[..., Awaitable[FastAgiServer]], caplog: pytest.LogCaptureFixture
) -> None:
    async def hotline(ch: AgiChannel) -> None:
        await ch.answer()

    server = await make_server({"hotline": hotline})
    fake = await FakeAsterisk.call(server.port)
    await fake.exchange("ANSWER", "this is not AGI")
    assert await fake.rest() == ["FAILURE"]
    await eventually(lambda: server.counters.failed == 1)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert "1700000000.1" in errors[0].getMessage()


@pytest.mark.timeout(10)
async def test_handler_exception_logs_error_and_sends_failure(
    make_server: Callable[..., Awaitable[FastAgiServer]], caplog: pytest.LogCaptureFixture
) -> None:
    async def hotline(ch: AgiChannel) -> None:
        raise RuntimeError("flow bug")

    server = await make_server({"hotline": hotline})
    fake = await FakeAsterisk.call(server.port)
    assert await fake.rest() == ["FAILURE"]
    await eventually(lambda: server.counters.failed == 1)
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.exc_info is not None and "flow bug" in str(error.exc_info[1])


@pytest.mark.timeout(10)
async def test_client_closes_mid_header(make_server: Callable[..., Awaitable[FastAgiServer]]) -> None:
    called: list[str] = []

    async def hotline(ch: AgiChannel) -> None:
        called.append(ch.call_id)

    server = await make_server({"hotline": hotline})
    fake = await FakeAsterisk.connect(server.port)
    await fake.say("agi_network: yes", "agi_network_script: hotline")
    await eventually(lambda: server.active_calls == 1)
    fake.close()
    await eventually(lambda: server.active_calls == 0)
    assert called == [] and server.counters.failed == 0


@pytest.mark.timeout(10)
async def test_client_closes_mid_command(make_server: Callable[..., Awaitable[FastAgiServer]]) -> None:
    caught: list[BaseException] = []

    async def hotline(ch: AgiChannel) -> None:
        try:
            await ch.stream_file("welcome")
        except AgiHangup as e:
            caught.append(e)
            raise

    server = await make_server({"hotline": hotline})
    fake = await FakeAsterisk.call(server.port)
    assert await fake.heard() == 'STREAM FILE welcome ""'
    fake.writer.write(b"200 resu")  # half a line, then gone
    fake.close()
    await eventually(lambda: server.counters.hung_up == 1)
    assert len(caught) == 1


@pytest.mark.timeout(10)
async def test_channel_errors_exec_missing_app_busy_and_broken(
    make_server: Callable[..., Awaitable[FastAgiServer]]
) -> None:
    caught: list[str] = []

    async def hotline(ch: AgiChannel) -> None:
        try:
            await ch.exec("NoSuchApp", "x")
        except AgiError as e:
            caught.append(str(e))
        assert await ch.wait_for_digit(-1) == "#"
        first = asyncio.create_task(ch.answer())
        await asyncio.sleep(0.05)
        try:
            await ch.verbose("overlapping")  # a second command while ANSWER is pending
        except AgiError as e:
            caught.append(str(e))
        await first
        try:
            await ch.exec("Queue", "hotline", timeout=0.2)
        except AgiError as e:
            caught.append(type(e).__name__)
        try:
            await ch.answer()
        except AgiError as e:
            caught.append(str(e))

    server = await make_server({"hotline": hotline})
    fake = await FakeAsterisk.call(server.port)
    await fake.exchange("EXEC NoSuchApp x", "200 result=-2")
    await fake.exchange("WAIT FOR DIGIT -1", "200 result=35")
    assert await fake.heard() == "ANSWER"
    await asyncio.sleep(0.2)
    await fake.say("200 result=0")
    assert await fake.heard() == "EXEC Queue hotline"  # never answered: times out
    assert await fake.rest() == []
    assert "'NoSuchApp' not found" in caught[0]
    assert "awaits its response" in caught[1] and "ANSWER" in caught[1]
    assert caught[2] == "AgiTimeout"
    assert "connection unusable" in caught[3]


@pytest.mark.timeout(10)
async def test_hangup_on_a_dead_channel_does_not_raise(make_server: Callable[..., Awaitable[FastAgiServer]]) -> None:
    async def hotline(ch: AgiChannel) -> None:
        await ch.hangup()
        assert ch.hung_up

    server = await make_server({"hotline": hotline})
    fake = await FakeAsterisk.call(server.port)
    await fake.exchange("HANGUP", "HANGUP", "200 result=1")
    assert await fake.rest() == []
    await eventually(lambda: server.counters.hung_up == 1)
    assert server.counters.failed == 0
