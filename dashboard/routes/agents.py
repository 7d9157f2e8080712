"""Agents log in, log out, pause (with a reason) and unpause over HTTP: the same AMI actions
(QueueAdd / QueueRemove / QueuePause) as `ivr agents`, checked against queues.yaml, audited."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from dashboard.deps import CurrentSession, Services, Svc, check_csrf
from dashboard.sessions import Session
from ivr.queueing.agents import AgentControl, AgentError
from ivr.queueing.ami import AmiError, connect_ami
from ivr.queueing.config import QueueConfigError, load_queue_config


class AgentAction(BaseModel):
    action: Literal["login", "logout", "pause", "unpause"]
    queue: str | None = Field(None, description="login: required; others: one queue, or all the agent's queues")
    penalty: int | None = Field(None, ge=0, description="login: overrides the penalty in queues.yaml")
    reason: str = Field("", max_length=200, description="pause: required (shown on the wallboard)")


async def _apply(ctl: AgentControl, agent: str, body: AgentAction) -> str:
    if body.action == "login":
        if not body.queue:
            raise AgentError("login needs a queue")
        return await ctl.login(body.queue, agent, body.penalty)
    if body.action == "logout":
        left = await ctl.logout(agent, body.queue)
        return f"logged out of {', '.join(left) or 'no queue (was not logged in)'}"
    if body.action == "pause":
        return await ctl.pause(agent, body.reason, body.queue)
    return await ctl.unpause(agent, body.queue)


async def control(svc: Services, session: Session, agent: str, body: AgentAction) -> str:
    """Run one agent action; 400 for a bad request (unknown agent, queue, missing reason), 502 for AMI."""
    status, message = 200, ""
    try:
        cfg = load_queue_config(svc.settings.flows_dir / "queues.yaml")
        manager = await connect_ami(svc.settings)
        try:
            message = await _apply(AgentControl(manager, cfg), agent, body)
        finally:
            manager.close()
    except AgentError as exc:
        status, message = 400, str(exc)
    except (AmiError, QueueConfigError) as exc:
        status, message = 502, str(exc)
    await svc.audit.record(session.user, session.role, "agent", agent, change=body.action, queue=body.queue,
                           reason=body.reason or None, ok=status == 200, result=message)
    if status != 200:
        raise HTTPException(status, message)
    return message


async def members(svc: Services, queue: str | None) -> list[dict[str, object]]:
    try:
        manager = await connect_ami(svc.settings)
    except AmiError as exc:
        raise HTTPException(502, str(exc)) from exc
    try:
        cfg = load_queue_config(svc.settings.flows_dir / "queues.yaml")
        return [m.model_dump() for m in await AgentControl(manager, cfg).members(queue)]
    except (AmiError, QueueConfigError) as exc:
        raise HTTPException(502, str(exc)) from exc
    finally:
        manager.close()


def build_router() -> APIRouter:
    router = APIRouter(tags=["agents"])

    @router.post("/api/agents/{agent}", dependencies=[Depends(check_csrf)],
                 summary="Log an agent in or out of a queue, pause (with a reason) or unpause")
    async def api_agent(agent: str, body: AgentAction, svc: Svc, session: CurrentSession) -> dict[str, str]:
        return {"agent": agent, "action": body.action, "result": await control(svc, session, agent, body)}

    @router.get("/api/agents", summary="Queue members as Asterisk sees them (QueueStatus)")
    async def api_agents(svc: Svc, session: CurrentSession, queue: str | None = None) -> list[dict[str, object]]:
        return await members(svc, queue)

    return router
