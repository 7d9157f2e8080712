"""Background tasks of a long-running service, none of which may die silently.

Every task is kept (a reference in `TaskSupervisor`), and when one ends with an exception the
death is logged with its traceback, counted (`deaths`, and the optional `on_death` hook that the
services point at Redis so `/metrics` shows it), and the task is restarted with exponential
backoff. A task that must not be restarted ends the service instead (`on_fatal`). A task that
returns on its own is a bug of the same kind: it is logged and restarted too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

DeathHook = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class Backoff:
    first: float = 1.0
    factor: float = 2.0
    most: float = 30.0
    stable_after: float = 60.0  # a task that ran this long starts again from `first`

    def next(self, delay: float) -> float:
        return min(delay * self.factor, self.most)


def _stopping() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class TaskSupervisor:
    def __init__(self, *, backoff: Backoff | None = None, on_death: DeathHook | None = None,
                 on_fatal: Callable[[str, BaseException], None] | None = None) -> None:
        self.backoff = backoff or Backoff()
        self.deaths: Counter[str] = Counter()
        self._on_death = on_death
        self._on_fatal = on_fatal
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def spawn(self, name: str, factory: Callable[[], Awaitable[None]], *, restart: bool = True) -> None:
        """Run `factory()` as the task `name`; a duplicate name is a bug and raises."""
        if name in self._tasks:
            raise ValueError(f"background task {name!r} is already running")
        self._tasks[name] = asyncio.create_task(self._supervise(name, factory, restart), name=name)

    @property
    def names(self) -> list[str]:
        return sorted(n for n, t in self._tasks.items() if not t.done())

    async def _supervise(self, name: str, factory: Callable[[], Awaitable[None]], restart: bool) -> None:
        delay = self.backoff.first
        while True:
            started = time.monotonic()
            try:
                await factory()
                log.error("background task %s returned on its own; %s", name,
                          "restarting" if restart else "stopping the service")
                failure: BaseException = RuntimeError(f"{name} returned")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if _stopping():  # cleanup failed after stop() cancelled it: stop() logs it
                    raise
                log.exception("background task %s died; %s", name, "restarting" if restart else "stopping the service")
                failure = exc
            await self._record_death(name)
            if not restart:
                if self._on_fatal is not None:
                    self._on_fatal(name, failure)
                return
            if time.monotonic() - started >= self.backoff.stable_after:
                delay = self.backoff.first
            log.warning("background task %s restarts in %.1f s (death %d)", name, delay, self.deaths[name])
            await asyncio.sleep(delay)
            delay = self.backoff.next(delay)

    async def _record_death(self, name: str) -> None:
        self.deaths[name] += 1
        if self._on_death is None:
            return
        try:
            await self._on_death(name)
        except Exception as exc:  # the count in memory and the log line above stay
            log.warning("background task %s: death not recorded for /metrics: %s", name, exc)

    async def stop(self, grace: float = 5.0) -> None:
        """Cancel every task and wait for it; an error raised while stopping is logged, not lost."""
        tasks, self._tasks = dict(self._tasks), {}
        for task in tasks.values():
            task.cancel()
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks.values(), timeout=grace)
        for name, task in tasks.items():
            if task in pending:
                log.error("background task %s did not stop within %.1f s", name, grace)
            elif not task.cancelled() and task.exception() is not None:
                log.error("background task %s failed while stopping", name, exc_info=task.exception())
