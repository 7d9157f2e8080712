"""A background job run every `interval` seconds until stopped.

Stopping sets a flag as well as cancelling: on Python 3.11 `asyncio.wait_for` (used by readers
such as ivr.schedule.read_override) can swallow a cancellation, and the flag still ends the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, job: Callable[[], Awaitable[None]], interval: float) -> None:
        self.name = name
        self._job = job
        self.interval = interval
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self._job()
            except Exception as exc:  # Redis down and the like: log, try again next time
                log.warning("%s failed: %s", self.name, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stop.set()
        task, self._task = self._task, None
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=1.0)
