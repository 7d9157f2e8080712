"""The incident statement (统一口径): a supervisor turns it on with what is affected and the
expected recovery time, and off again. The statement is synthesized for each language before it
goes live, so the next caller hears it without waiting for speech synthesis."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from redis.asyncio import Redis
from starlette.responses import Response

from dashboard.deps import CurrentSession, Services, Svc, check_csrf, render
from ivr import keys
from ivr.prompts import PromptError, ensure_prompt
from ivr.state.incident import TEMPLATES, Incident, clear_incident, render_statement, set_incident

LANGUAGES = tuple(TEMPLATES)
MAX_TEXT = 300


class IncidentIn(BaseModel):
    text: dict[str, str] = Field(description="what is affected, per language (zh-CN required), e.g. 宽带服务")
    recovery: str = Field(description="expected recovery time as callers hear it, e.g. 今天18:00")


async def read_incident(redis: Redis) -> Incident | None:
    """The stored statement, on or off (the page shows the last one even when off)."""
    raw = await redis.get(keys.INCIDENT)
    return None if raw is None else Incident.model_validate_json(raw)


def _check(text: dict[str, str], recovery: str) -> dict[str, str]:
    cleaned = {lang: t.strip() for lang, t in text.items() if t.strip()}
    problems = [f"language {lang!r}: not one of {', '.join(LANGUAGES)}" for lang in cleaned if lang not in LANGUAGES]
    if "zh-CN" not in cleaned:
        problems.append("zh-CN: say what is affected (e.g. 宽带服务); callers default to Chinese")
    problems += [f"{lang}: at most {MAX_TEXT} characters" for lang, t in cleaned.items() if len(t) > MAX_TEXT]
    if not recovery.strip():
        problems.append("recovery: give the expected recovery time (e.g. 今天18:00)")
    elif len(recovery) > 100:
        problems.append("recovery: at most 100 characters")
    if problems:
        raise HTTPException(400, "; ".join(problems))
    return cleaned


async def turn_on(svc: Services, user: str, role: str, text: dict[str, str], recovery: str) -> Incident:
    cleaned = _check(text, recovery)
    preview = Incident(on=True, text=cleaned, recovery=recovery.strip(), since=0.0)
    try:
        for lang in cleaned:
            await asyncio.to_thread(ensure_prompt, render_statement(preview, lang), lang, svc.settings.prompts_path)
    except PromptError as exc:
        raise HTTPException(500, f"incident statement not turned on: speech synthesis failed: {exc}") from exc
    incident = await set_incident(svc.redis, cleaned, recovery.strip())
    await svc.audit.record(user, role, "incident_on", "incident", text=cleaned, recovery=incident.recovery)
    return incident


async def turn_off(svc: Services, user: str, role: str) -> None:
    await clear_incident(svc.redis)
    await svc.audit.record(user, role, "incident_off", "incident")


def _statements(incident: Incident | None) -> dict[str, str]:
    return {lang: render_statement(incident, lang) for lang in incident.text} if incident else {}


def build_router() -> APIRouter:
    router = APIRouter()

    async def page(request: Request, svc: Services, error: str = "", status: int = 200) -> Response:
        incident = await read_incident(svc.redis)
        return render(request, "incident.html", status_code=status, incident=incident,
                      statements=_statements(incident), languages=LANGUAGES, error=error)

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
        return {"incident": incident.model_dump() if incident else None, "statements": _statements(incident)}

    @router.put("/api/incident", tags=["incident"], dependencies=[Depends(check_csrf)],
                summary="Turn the statement on (send X-CSRF-Token); callers hear it from the next call on")
    async def api_on(body: IncidentIn, svc: Svc, session: CurrentSession) -> dict[str, Any]:
        incident = await turn_on(svc, session.user, session.role, body.text, body.recovery)
        return {"incident": incident.model_dump(), "statements": _statements(incident)}

    @router.delete("/api/incident", tags=["incident"], dependencies=[Depends(check_csrf)],
                   summary="Turn the statement off")
    async def api_off(svc: Svc, session: CurrentSession) -> dict[str, Any]:
        await turn_off(svc, session.user, session.role)
        return {"incident": None}

    return router
