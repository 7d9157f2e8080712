"""The incident statement's page and API: a supervisor turns it on with what is affected and the
expected recovery time, and off again (dashboard.incident_control does the work)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.responses import Response

from dashboard.deps import CurrentSession, Services, Svc, check_csrf, render
from dashboard.incident_control import LANGUAGES, read_incident, statements, turn_off, turn_on


class IncidentIn(BaseModel):
    text: dict[str, str] = Field(description="what is affected, per language (zh-CN required), e.g. 宽带服务")
    recovery: str = Field(description="expected recovery time as callers hear it, e.g. 今天18:00")


def build_router() -> APIRouter:
    router = APIRouter()

    async def page(request: Request, svc: Services, error: str = "", status: int = 200) -> Response:
        incident = await read_incident(svc.redis)
        return render(request, "incident.html", status_code=status, incident=incident,
                      statements=statements(incident), languages=LANGUAGES, error=error)

    @router.get("/incident", include_in_schema=False)
    async def incident_page(request: Request, svc: Svc, session: CurrentSession) -> Response:
        return await page(request, svc)

    @router.post("/incident/on", include_in_schema=False, dependencies=[Depends(check_csrf)])
    async def on_form(request: Request, svc: Svc, session: CurrentSession,
                      recovery: Annotated[str, Form()] = "") -> Response:
        form = await request.form()
        text = {lang: str(form.get(f"text_{lang}", "")) for lang in LANGUAGES}
        try:
            await turn_on(svc, session.user, session.role, text, recovery)
        except HTTPException as exc:
            return await page(request, svc, str(exc.detail), exc.status_code)
        return RedirectResponse("/incident", status_code=303)

    @router.post("/incident/off", include_in_schema=False, dependencies=[Depends(check_csrf)])
    async def off_form(svc: Svc, session: CurrentSession) -> Response:
        await turn_off(svc, session.user, session.role)
        return RedirectResponse("/incident", status_code=303)

    @router.get("/api/incident", tags=["incident"], summary="The incident statement (on or off) as callers hear it")
    async def api_get(svc: Svc, session: CurrentSession) -> dict[str, Any]:
        incident = await read_incident(svc.redis)
        return {"incident": incident.model_dump() if incident else None, "statements": statements(incident)}

    @router.put("/api/incident", tags=["incident"], dependencies=[Depends(check_csrf)],
                summary="Turn the statement on (send X-CSRF-Token); callers hear it from the next call on")
    async def api_on(body: IncidentIn, svc: Svc, session: CurrentSession) -> dict[str, Any]:
        incident = await turn_on(svc, session.user, session.role, body.text, body.recovery)
        return {"incident": incident.model_dump(), "statements": statements(incident)}

    @router.delete("/api/incident", tags=["incident"], dependencies=[Depends(check_csrf)],
                   summary="Turn the statement off")
    async def api_off(svc: Svc, session: CurrentSession) -> dict[str, Any]:
        await turn_off(svc, session.user, session.role)
        return {"incident": None}

    return router
