"""Live calls page and listen / whisper / barge (dashboard.live_calls starts and audits each one)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from pydantic import BaseModel
from starlette.responses import Response

from dashboard.deps import CurrentSession, Services, Svc, check_csrf, render
from dashboard.live_calls import agents_on_calls, start_monitor
from dashboard.monitor import OPTIONS


class MonitorIn(BaseModel):
    agent: str
    mode: str


def build_router() -> APIRouter:
    router = APIRouter()

    async def page(request: Request, svc: Services, message: str = "", error: str = "",
                   status: int = 200) -> Response:
        return render(request, "live.html", status_code=status, calls=await agents_on_calls(svc),
                      modes=list(OPTIONS), message=message, error=error)

    @router.get("/live", include_in_schema=False)
    async def live_page(request: Request, svc: Svc, session: CurrentSession) -> Response:
        return await page(request, svc)

    @router.post("/live/monitor", include_in_schema=False, dependencies=[Depends(check_csrf)])
    async def monitor_form(request: Request, svc: Svc, session: CurrentSession,
                           agent: Annotated[str, Form()], mode: Annotated[str, Form()]) -> Response:
        try:
            message = await start_monitor(svc, session, mode, agent)
        except HTTPException as exc:
            return await page(request, svc, error=str(exc.detail), status=exc.status_code)
        return await page(request, svc, message=message)

    @router.post("/api/live/monitor", tags=["live"], dependencies=[Depends(check_csrf)],
                 summary="Ring your phone and listen (q), whisper (w) or barge (B) on an agent's call")
    async def api_monitor(body: MonitorIn, svc: Svc, session: CurrentSession) -> dict[str, str]:
        return {"result": await start_monitor(svc, session, body.mode, body.agent)}

    @router.get("/api/live/calls", tags=["live"], summary="Agents on a call (or ringing) per queue")
    async def api_calls(svc: Svc, session: CurrentSession) -> list[dict[str, Any]]:
        return await agents_on_calls(svc)

    return router
