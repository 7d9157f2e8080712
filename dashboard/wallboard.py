"""The wallboard service: the live board (cached, one Redis read shared by concurrent requests), the
SSE hub that pushes it, and the once-a-minute trend sampler. Its pages are dashboard.routes.wallboard."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from dashboard.catalog import Catalog
from dashboard.deps import Services
from dashboard.hub import Hub
from dashboard.livestate import Board, read_board
from dashboard.periodic import Periodic
from dashboard.trends import record_sample
from ivr import keys
from ivr.tasks import TaskSupervisor


class Wallboard:
    def __init__(self, svc: Services, poll_interval: float = 0.2, sample_interval: float = 60.0) -> None:
        self.svc = svc
        self.catalog = Catalog(svc.settings.flows_dir, svc.settings.default_language)
        self.hub = Hub(self.snapshot, interval=poll_interval)
        self.sampler = Periodic("trend-sampler", self._sample, sample_interval)
        self.cache_s = min(0.1, poll_interval)
        self._snap: dict[str, Any] | None = None
        self._snap_at = 0.0
        self._inflight: asyncio.Future[dict[str, Any]] | None = None

    async def board(self) -> Board:
        now = self.svc.clock.now()
        queues = self.catalog.queues()
        peak = await self.catalog.peak_on(now, self.svc.redis)
        board = await read_board(self.svc.redis, queues, now, peak=peak)
        board.extra["errors"] = self.catalog.errors
        return board

    async def _compute(self) -> dict[str, Any]:
        board = await self.board()
        snap = {**board.to_json(), "errors": board.extra["errors"]}
        self._snap, self._snap_at = snap, time.monotonic()
        return snap

    async def snapshot(self) -> dict[str, Any]:
        """The current board, at most `cache_s` old: concurrent API requests share one Redis read."""
        if self._snap is not None and time.monotonic() - self._snap_at < self.cache_s:
            return self._snap
        if self._inflight is None or self._inflight.done():
            self._inflight = asyncio.ensure_future(self._compute())
        return await asyncio.shield(self._inflight)

    async def _sample(self) -> None:
        await record_sample(self.svc.redis, await self.board(), self.svc.clock.now(),
                            keys.dashboard_trend_ttl_s(self.svc.settings))

    def start(self, tasks: TaskSupervisor) -> None:
        self.hub.start(tasks)
        self.sampler.start(tasks)

    def stop(self) -> None:
        self.hub.stop()
        self.sampler.stop()


def wallboard(svc: Services) -> Wallboard:
    wb: Wallboard = svc.extra["wallboard"]
    return wb
