"""The benchmark floor: the benchmark dialogue (harness/agi_dialogue.py) as a bare asyncio FastAGI loop.

No validation, no timeouts, no stats, no routing: it shows what the FastAGI framework costs on
top of the minimum. Only bench/ uses it:  python -m harness.agi_floor --port 4574

With IVR_AGI_STATS_FILE set (the benchmark), each call appends one JSON line to that file:
[[command, seconds from writing it to reading its reply], ...].
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable

from harness.agi_dialogue import CHOICE_DIGITS, CHOICE_TIMEOUT_MS, CHOICE_VARIABLE, DEFAULT_GOODBYE, MENU_FILE

STATS_FILE_ENV = "IVR_AGI_STATS_FILE"
Times = list[tuple[str, float]]


async def _ask(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, command: bytes, times: Times | None = None
) -> bytes:
    start = time.perf_counter()
    writer.write(command + b"\n")
    reply = await reader.readline()
    if times is not None:
        times.append((command.decode(errors="replace"), time.perf_counter() - start))
    return reply


async def floor_call(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, times: Times | None = None) -> None:
    header: dict[bytes, bytes] = {}
    while (line := await reader.readline()) not in (b"\n", b""):
        key, _, value = line.rstrip(b"\n").partition(b": ")
        header[key] = value
    prompt = header.get(b"agi_arg_1", b"")
    goodbye = header.get(b"agi_arg_2") or DEFAULT_GOODBYE.encode()
    menu = f"GET DATA {MENU_FILE} {CHOICE_TIMEOUT_MS} {CHOICE_DIGITS}".encode()
    if await _ask(reader, writer, b"ANSWER", times) and await _ask(
        reader, writer, b'STREAM FILE ' + prompt + b' ""', times
    ):
        reply = await _ask(reader, writer, menu, times)
        choice = reply.partition(b"result=")[2].split(b" ", 1)[0].strip()
        if reply and choice != b"-1":
            variable = f"SET VARIABLE {CHOICE_VARIABLE} ".encode() + (choice or b'""')
            if await _ask(reader, writer, variable, times):
                await _ask(reader, writer, b"STREAM FILE " + goodbye + b' ""', times)
    writer.close()


def _timed_call(path: str) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def call(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        times: Times = []
        try:
            await floor_call(reader, writer, times)
        finally:
            _append_line(path, json.dumps(times))

    return call


def _append_line(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(line + "\n")


async def start_floor(host: str = "127.0.0.1", port: int = 4574) -> asyncio.Server:
    stats_file = os.environ.get(STATS_FILE_ENV)
    handler = _timed_call(stats_file) if stats_file else floor_call
    return await asyncio.start_server(handler, host, port, reuse_address=True, backlog=1024)


async def _serve(host: str, port: int) -> None:
    server = await start_floor(host, port)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description="Bare asyncio FastAGI floor for the benchmark")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4574)
    args = parser.parse_args()
    asyncio.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
