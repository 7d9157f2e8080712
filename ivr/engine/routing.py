"""Runners that decide by live state: schedule (business hours) and incident (统一口径)."""

from __future__ import annotations

import logging

from ivr.callflow.nodes import IncidentNode, ScheduleNode
from ivr.engine.context import CallContext, Step
from ivr.schedule import current_status
from ivr.state.incident import DEFAULT_LANGUAGE, Incident, get_incident, render_statement

log = logging.getLogger(__name__)


async def run_schedule(node: ScheduleNode, ctx: CallContext) -> Step:
    services = ctx.services
    redis = await services.redis()
    status = await current_status(node.schedule, services.schedules, services.clock, redis)
    ctx.recorder.set("schedule_status", status)
    ctx.event("schedule", schedule=node.schedule, status=status)
    if status == "open":
        return node.open
    if status == "holiday" and node.holiday is not None:
        return node.holiday
    return node.closed


def _statement_language(incident: Incident, language: str) -> str:
    """The language render_statement will speak (same fallback: caller's, zh-CN, any)."""
    if language in incident.text:
        return language
    return DEFAULT_LANGUAGE if DEFAULT_LANGUAGE in incident.text else next(iter(incident.text))


async def run_incident(node: IncidentNode, ctx: CallContext) -> Step:
    incident = await get_incident(await ctx.services.redis())
    played = incident is not None and bool(incident.text)
    if incident is not None and played:
        language = _statement_language(incident, ctx.language)
        await ctx.say(render_statement(incident, ctx.language), language)
    ctx.recorder.set("incident_played", played)
    ctx.event("incident", played=played)
    return node.next
