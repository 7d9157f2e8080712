"""Wallboard: live per-queue state pushed to browsers by SSE, trends over the day, GET /api/queues."""

from __future__ import annotations

import asyncio
import time
from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel
from starlette.responses import Response

from dashboard.catalog import Catalog
from dashboard.deps import CurrentSession, Services, Svc, render
from dashboard.hub import Hub, sse_events
from dashboard.livestate import Board, read_board
from dashboard.periodic import Periodic
from dashboard.trends import charts, read_samples, record_sample


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
        await record_sample(self.svc.redis, await self.board(), self.svc.clock.now())

    def start(self) -> None:
        self.sampler.start()

    async def stop(self) -> None:
        await self.hub.stop()
        await self.sampler.stop()


def wallboard(svc: Services) -> Wallboard:
    wb: Wallboard = svc.extra["wallboard"]
    return wb


class QueueOut(BaseModel):
    name: str
    title: str
    waiting: int
    longest_wait_s: float
    agents: dict[str, int]
    offered: int
    answered: int
    answered_in_time: int
    abandoned: int
    service_level_pct: float | None
    abandon_pct: float | None
    overflow: dict[str, int]
    callbacks_pending: int


class QueuesOut(BaseModel):
    at: float
    peak: bool
    incident: dict[str, Any] | None
    errors: list[str]
    queues: list[QueueOut]


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/", include_in_schema=False)
    async def home(session: CurrentSession) -> Response:
        return RedirectResponse("/wallboard", status_code=303)

    @router.get("/wallboard", include_in_schema=False)
    async def page(request: Request, svc: Svc, session: CurrentSession) -> Response:
        return render(request, "wallboard.html", board=await wallboard(svc).snapshot())

    @router.get("/wallboard/stream", include_in_schema=False)
    async def stream(request: Request, svc: Svc, session: CurrentSession) -> Response:
        events = sse_events(wallboard(svc).hub, request.is_disconnected)
        return StreamingResponse(events, media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @router.get("/wallboard/trends", include_in_schema=False, response_class=HTMLResponse)
    async def trends(svc: Svc, session: CurrentSession) -> str:
        now = svc.clock.now()
        samples = await read_samples(svc.redis, now.date().isoformat())
        queues = wallboard(svc).catalog.queues()
        return "".join(f'<div class="trend" data-queue="{escape(q)}">{charts(samples, q, now)}</div>' for q in queues)

    @router.get("/api/queues", response_model=QueuesOut, tags=["live"],
                summary="Live state of every queue (what the wallboard shows)")
    async def api_queues(svc: Svc, session: CurrentSession) -> Response:
        # Already plain JSON types: skip response-model validation on this hot path.
        return JSONResponse(await wallboard(svc).snapshot())

    return router
