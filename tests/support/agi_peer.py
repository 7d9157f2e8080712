"""FastAGI over real TCP sockets: a peer that speaks Asterisk's side of the wire protocol (res_agi's
header, then a command and its response at a time) and servers started for a test and stopped after it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from agi.channel import AgiChannel
from agi.server import FastAgiServer

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


MakeServer = Callable[..., Awaitable[FastAgiServer]]


@asynccontextmanager
async def fastagi_servers() -> AsyncIterator[MakeServer]:
    """`make(routes, **kw)` starts a FastAgiServer on a free port; every one is stopped at the end."""
    servers: list[FastAgiServer] = []

    async def make(routes: dict[str, Script], **kw: Any) -> FastAgiServer:
        kw.setdefault("read_timeout", 5.0)
        kw.setdefault("drain_timeout", 5.0)
        server = FastAgiServer(routes.get, host="127.0.0.1", port=0, **kw)
        await server.start()
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for server in servers:
            await server.stop(drain=False)


async def eventually(check: Callable[[], bool]) -> None:
    """Waits up to 5 s for `check()` to hold."""
    deadline = time.monotonic() + 5
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)
