"""The benchmark floor: the benchmark dialogue (agi/dialogue.py) as a bare asyncio FastAGI loop.

No validation, no timeouts, no stats, no routing: it shows what the FastAGI framework costs on
top of the minimum. Only bench/ uses it:  python -m agi.floor --port 4574
"""

from __future__ import annotations

import argparse
import asyncio

from agi.dialogue import CHOICE_DIGITS, CHOICE_TIMEOUT_MS, CHOICE_VARIABLE, DEFAULT_GOODBYE, MENU_FILE


async def _ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, command: bytes) -> bytes:
    writer.write(command + b"\n")
    return await reader.readline()


async def floor_call(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    header: dict[bytes, bytes] = {}
    while (line := await reader.readline()) not in (b"\n", b""):
        key, _, value = line.rstrip(b"\n").partition(b": ")
        header[key] = value
    prompt = header.get(b"agi_arg_1", b"")
    goodbye = header.get(b"agi_arg_2") or DEFAULT_GOODBYE.encode()
    menu = f"GET DATA {MENU_FILE} {CHOICE_TIMEOUT_MS} {CHOICE_DIGITS}".encode()
    if await _ask(reader, writer, b"ANSWER") and await _ask(reader, writer, b'STREAM FILE ' + prompt + b' ""'):
        reply = await _ask(reader, writer, menu)
        choice = reply.partition(b"result=")[2].split(b" ", 1)[0].strip()
        if reply and choice != b"-1":
            variable = f"SET VARIABLE {CHOICE_VARIABLE} ".encode() + (choice or b'""')
            if await _ask(reader, writer, variable):
                await _ask(reader, writer, b"STREAM FILE " + goodbye + b' ""')
    writer.close()


async def start_floor(host: str = "127.0.0.1", port: int = 4574) -> asyncio.Server:
    return await asyncio.start_server(floor_call, host, port, reuse_address=True, backlog=1024)


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
