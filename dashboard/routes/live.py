"""Live calls page and listen / whisper / barge (AMI Originate + ChanSpy), each attempt audited."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from pydantic import BaseModel
from starlette.responses import Response

from dashboard.deps import CurrentSession, Services, Svc, check_csrf, render
from dashboard.monitor import OPTIONS, MonitorError, agent_interface, originate, spy_request
from dashboard.sessions import Session
from dashboard.wallboard import wallboard
from ivr import keys
from ivr.queueing.config import QueueConfigError, load_queue_config


async def agents_on_calls(svc: Services) -> list[dict[str, Any]]:
    """Agents whose state is on_call or ringing, per queue, longest call first."""
    now = time.time()
    rows = []
    for queue in wallboard(svc).catalog.queues():
        for agent, raw in (await svc.redis.hgetall(keys.queue_agents(queue))).items():
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            if data.get("state") in ("on_call", "ringing"):
                rows.append({"queue": queue, "agent": agent, "state": data["state"],
                             "for_s": round(now - float(data.get("since") or now))})
    return sorted(rows, key=lambda r: -r["for_s"])


def configured_agents(svc: Services) -> list[str]:
    path = svc.settings.flows_dir / "queues.yaml"
    try:
        return list(load_queue_config(path).agents)
    except (QueueConfigError, OSError) as exc:
        raise MonitorError(503, f"live monitor unavailable: the agents cannot be read from {path}: {exc}") from exc


async def start_monitor(svc: Services, session: Session, mode: str, agent: str) -> str:
    user = await svc.users.get(session.user)
    endpoint = (user.endpoint if user else "") or svc.settings.supervisor_endpoint
    try:
        request = spy_request(mode, agent_interface(agent, configured_agents(svc)), endpoint)
        result = await originate(svc.settings, request, session.user)
    except MonitorError as exc:
        await svc.audit.record(session.user, session.role, "monitor", agent[:80], mode=mode[:20],
                               endpoint=endpoint, ok=False, status=exc.status, error=str(exc))
        raise HTTPException(exc.status, str(exc)) from exc
    await svc.audit.record(session.user, session.role, "monitor", agent, mode=mode, endpoint=endpoint, ok=True)
    return f"Calling {endpoint} to {mode} on {request.target}: {result}"


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
