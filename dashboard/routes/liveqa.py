"""Live QA alerts: their SSE stream (the wallboard and the live-calls page), the list, and one-click
listen / whisper on an alert's call (dashboard.liveqa)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.responses import Response

from dashboard.deps import CurrentSession, Svc, check_csrf
from dashboard.hub import sse_events
from dashboard.liveqa import act, liveqa_alerts


class ActIn(BaseModel):
    mode: str


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/liveqa/stream", include_in_schema=False)
    async def stream(request: Request, svc: Svc, session: CurrentSession) -> Response:
        events = sse_events(liveqa_alerts(svc).hub, request.is_disconnected)
        return StreamingResponse(events, media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @router.get("/api/liveqa/alerts", tags=["live"], summary="Live QA alerts of the last hour, newest first")
    async def alerts(svc: Svc, session: CurrentSession) -> dict[str, Any]:
        return await liveqa_alerts(svc).snapshot()

    @router.post("/api/liveqa/alerts/{alert_id}/act", tags=["live"], dependencies=[Depends(check_csrf)],
                 summary="Ring your phone to listen to or whisper on the call of a live QA alert")
    async def act_on(alert_id: str, body: ActIn, svc: Svc, session: CurrentSession) -> dict[str, str]:
        return {"result": await act(svc, session, alert_id, body.mode)}

    return router
