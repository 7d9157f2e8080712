"""Variant (a) of the AGI benchmark: our `FastAgiServer` serving the benchmark dialogue
(harness/agi_dialogue.py) in a process of its own, as `ivr serve` runs in production.

    python -m bench.fastagi_runner --port 4575 --stats-file /tmp/a.jsonl

Each call appends one JSON line to --stats-file: [[verb, seconds], ...], the round trips the
call's AgiChannel measured itself (agi/stats.py), in the format of harness/agi_floor.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging

from agi.channel import AgiChannel
from agi.server import FastAgiServer, Handler
from harness.agi_dialogue import dialogue_handler

SCRIPT = "dialogue"


def _append_call(path: str, channel: AgiChannel) -> None:
    samples = [[verb, s] for verb, stats in channel.stats.verbs.items() for s in stats.recent]
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(samples) + "\n")


def build_server(host: str, port: int, stats_file: str, max_calls: int, read_timeout: float) -> FastAgiServer:
    async def handler(channel: AgiChannel) -> None:
        try:
            await dialogue_handler(channel)
        finally:
            _append_call(stats_file, channel)

    def resolve(script: str) -> Handler | None:
        return handler if script == SCRIPT else None

    return FastAgiServer(resolve, host, port, max_calls=max_calls, read_timeout=read_timeout)


async def _serve(args: argparse.Namespace) -> None:
    server = build_server(args.host, args.port, args.stats_file, args.max_calls, args.read_timeout)
    await server.start()
    server.install_signal_handlers()
    await server.serve_forever()
    c = server.counters
    logging.getLogger(__name__).warning(
        "FastAGI bench server: accepted %d completed %d hung_up %d failed %d refused %d",
        c.accepted, c.completed, c.hung_up, c.failed, c.refused_busy + c.refused_unknown,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="FastAgiServer with the benchmark dialogue (bench/agi_bench.py)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stats-file", required=True)
    parser.add_argument("--max-calls", type=int, default=1000)
    parser.add_argument("--read-timeout", type=float, default=30.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
