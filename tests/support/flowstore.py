"""For flow-store tests: the watcher's reloads to wait for, and a valid flow that is slow to check."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ivr.callflow.store import ReloadResult


class Reloads:
    """on_reload callback that lets a test wait for the watcher's next reloads."""

    def __init__(self) -> None:
        self.results: list[ReloadResult] = []
        self.event = asyncio.Event()

    def __call__(self, result: ReloadResult) -> None:
        self.results.append(result)
        self.event.set()

    async def until(self, check: Callable[[], bool]) -> None:
        async with asyncio.timeout(10):
            while not check():
                await self.event.wait()
                self.event.clear()


def big_flow(text: str, prompts: int = 5000) -> str:
    """`text` (a valid flow) with spare prompts: about 400 kB for 5000, seconds to check, under
    MAX_FLOW_BYTES."""
    extra = "".join(f"  spare_{i}:\n    zh-CN: 备用提示{i}\n    en-US: Spare prompt number {i}\n"
                    for i in range(prompts))
    return text.replace("prompts:\n", "prompts:\n" + extra, 1)
