"""The FastAGI server over real TCP sockets, driven by a fake Asterisk that speaks the wire protocol."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
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
from agi.server import FastAgiServer, Handler

DEAD = "511 Command Not Permitted on a dead channel or intercept routine"


class FakeAsterisk:
    """One FastAGI connection as Asterisk's res_agi makes it: header, then command/response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> FakeAsterisk:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    @classmethod
    async def call(cls, port: int, script: str = "hotline", uniqueid: str = "1700000000.1",
                   args: tuple[str, ...] = ()) -> FakeAsterisk:
        fake = await cls.connect(port)
        await fake.send_header(script, uniqueid, args)
        return fake

    async def send_header(self, script: str, uniqueid: str, args: tuple[str, ...] = ()) -> None:
        lines = [
            "agi_network: yes", f"agi_network_script: {script}",
            f"agi_request: agi://127.0.0.1/{script}", "agi_channel: PJSIP/caller-00000001",
            "agi_language: zh", "agi_type: PJSIP", f"agi_uniqueid: {uniqueid}",
            "agi_callerid: 13800138000", "agi_calleridname: 张三", "agi_context: hotline",
            "agi_extension: 400", "agi_priority: 2", "agi_accountcode: ",
            *(f"agi_arg_{i}: {a}" for i, a in enumerate(args, 1)),
        ]
        await self.say(*lines, "")

    async def say(self, *lines: str) -> None:
        self.writer.write("".join(f"{line}\n" for line in lines).encode())
        await self.writer.drain()

    async def heard(self) -> str:
        raw = await asyncio.wait_for(self.reader.readline(), 5)
        assert raw.endswith(b"\n"), f"expected a command line, got {raw!r} (EOF?)"
        return raw.decode().rstrip("\n")

    async def exchange(self, command: str, *response: str) -> None:
        assert await self.heard() == command
        await self.say(*response)

    async def rest(self) -> list[str]:
        """Every remaining line up to EOF (the server closing the connection)."""
        data = await asyncio.wait_for(self.reader.read(), 5)
        self.close()
        return data.decode().splitlines()

    def close(self) -> None:
        self.writer.close()


Script = Callable[[AgiChannel], Awaitable[None]]


@pytest.fixture
async def make_server() -> AsyncIterator[Callable[..., Awaitable[FastAgiServer]]]:
    servers: list[FastAgiServer] = []

    async def make(routes: dict[str, Script], **kw: Any) -> FastAgiServer:
        kw.setdefault("read_timeout", 5.0)
        kw.setdefault("drain_timeout", 5.0)
        server = FastAgiServer(routes.get, host="127.0.0.1", port=0, **kw)
        await server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop(drain=False)


async def eventually(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


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
