"""Turning the incident statement (统一口径) on and off: the input checked (each problem named), the
statement synthesized for each language before it goes live, so the next caller hears it without
waiting for speech synthesis, and every change audited. Its pages are dashboard.routes.incident."""

from __future__ import annotations

import asyncio

from fastapi import HTTPException
from redis.asyncio import Redis

from dashboard.deps import Services
from ivr import keys
from ivr.prompts import PromptError, ensure_prompt
from ivr.state.incident import TEMPLATES, Incident, clear_incident, render_statement, set_incident

LANGUAGES = tuple(TEMPLATES)
MAX_TEXT = 300


async def read_incident(redis: Redis) -> Incident | None:
    """The stored statement, on or off (the page shows the last one even when off)."""
    raw = await redis.get(keys.INCIDENT)
    return None if raw is None else Incident.model_validate_json(raw)


def checked_statement(text: dict[str, str], recovery: str) -> dict[str, str]:
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
    cleaned = checked_statement(text, recovery)
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


def statements(incident: Incident | None) -> dict[str, str]:
    return {lang: render_statement(incident, lang) for lang in incident.text} if incident else {}
