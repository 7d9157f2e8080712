"""Wallboard pages: the live board, its SSE stream, the day's trends, and GET /api/queues."""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel
from starlette.responses import Response

from dashboard.deps import CurrentSession, Svc, render
from dashboard.hub import sse_events
from dashboard.livestate import QueueView
from dashboard.trends import charts, read_samples
from dashboard.wallboard import wallboard


class QueuesOut(BaseModel):
    at: float
    peak: bool
    incident: dict[str, Any] | None
    errors: list[str]
    queues: list[QueueView]


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
