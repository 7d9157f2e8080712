"""A background job run every `interval` seconds, as a task of the dashboard's TaskSupervisor.

A failing job (Redis down and the like) is logged and runs again next time; anything that ends
the loop itself is the supervisor's to see: logged, counted for /metrics, restarted with backoff.
Stopping sets a flag before the supervisor cancels: on Python 3.11 `asyncio.wait_for` (used by
readers such as ivr.schedule.read_override) can swallow a cancellation, and the flag still ends
the loop, as a cancellation, so that the supervisor does not take the end for a death.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from ivr.tasks import TaskSupervisor

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, job: Callable[[], Awaitable[None]], interval: float) -> None:
        self.name = name
        self._job = job
        self.interval = interval
        self._stop = asyncio.Event()

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                await self._job()
            except Exception as exc:  # Redis down and the like: log, try again next time
                log.warning("%s failed: %s", self.name, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)
        raise asyncio.CancelledError  # stopped on purpose: not a death of the task

    def start(self, tasks: TaskSupervisor) -> None:
        self._stop.clear()
        tasks.spawn(self.name, self.run)

    def stop(self) -> None:
        """Ends the loop at its next turn; TaskSupervisor.stop() then cancels and waits for it."""
        self._stop.set()
