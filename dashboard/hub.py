"""Fan-out of live snapshots to SSE clients.

One background task per hub (`run`, kept by the dashboard's TaskSupervisor, so a death is logged,
counted for /metrics and restarted) polls Redis every `interval` seconds (default 0.2 s, so a
change reaches browsers well within a second) while at least one client listens, waits for a
client otherwise, and pushes a snapshot only when it changed. Each client has a one-slot queue:
a slow browser skips to the newest snapshot instead of piling up memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from ivr.tasks import TaskSupervisor

log = logging.getLogger(__name__)
Snapshot = Callable[[], Awaitable[dict[str, Any]]]


class Hub:
    def __init__(self, snapshot: Snapshot, interval: float = 0.2, max_clients: int = 200,
                 ignore: tuple[str, ...] = ("at",)) -> None:
        self._snapshot = snapshot
        self._ignore = ignore  # fields that change on every read (timestamps): not a change by themselves
        self._last_key: str | None = None
        self.interval = interval
        self.max_clients = max_clients
        self._clients: set[asyncio.Queue[str]] = set()
        self._listening = asyncio.Event()  # set while the poller polls (a client came since it last idled)
        self._last: str | None = None

    @property
    def clients(self) -> int:
        return len(self._clients)

    def start(self, tasks: TaskSupervisor, name: str = "wallboard-hub") -> None:
        tasks.spawn(name, self.run)

    async def run(self) -> None:
        """The poller, for the life of the app: polls while someone listens, then waits for the next one."""
        while True:
            await self._listening.wait()
            await self._poll()
            self._listening.clear()  # no await since _poll saw no client: a new one cannot be missed

    async def _poll(self) -> None:
        while self._clients:
            try:
                snap = await self._snapshot()
            except Exception as exc:  # Redis down: keep the page, say so, try again
                log.warning("wallboard snapshot failed: %s", exc)
                snap = {"error": f"live state unavailable: {exc}"}
            key = json.dumps({k: v for k, v in snap.items() if k not in self._ignore}, sort_keys=True)
            if key != self._last_key:
                self._last_key = key
                data = json.dumps(snap, ensure_ascii=False, sort_keys=True)
                self._last = data
                for q in list(self._clients):
                    if q.full():
                        q.get_nowait()
                    q.put_nowait(data)
            await asyncio.sleep(self.interval)

    def _ensure_polling(self) -> None:
        if not self._listening.is_set():
            self._last = self._last_key = None  # idle since: the next read is pushed whatever it is
            self._listening.set()

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[str]]:
        if len(self._clients) >= self.max_clients:
            raise RuntimeError(f"too many wallboard clients ({self.max_clients})")
        q: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
        if self._last is not None:
            q.put_nowait(self._last)  # a new client gets the current state at once
        self._clients.add(q)
        self._ensure_polling()
        try:
            yield q
        finally:
            self._clients.discard(q)

    def stop(self) -> None:
        """Lets every client go; TaskSupervisor.stop() ends the poller."""
        self._clients.clear()


async def sse_events(hub: Hub, is_disconnected: Callable[[], Awaitable[bool]],
                     keepalive: float = 15.0) -> AsyncIterator[str]:
    """Server-sent events: `data: <json>` per change, a comment line as keep-alive."""
    async with hub.subscribe() as q:
        yield "retry: 1000\n\n"
        while not await is_disconnected():
            try:
                data = await asyncio.wait_for(q.get(), keepalive)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            yield f"data: {data}\n\n"
