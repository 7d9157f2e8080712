"""The live calls supervisors may monitor (agents on a call or ringing, per queue) and starting a
listen / whisper / barge on one (AMI Originate + ChanSpy, dashboard.monitor), each attempt audited.
Its page and API are dashboard.routes.live."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import HTTPException

from dashboard.deps import Services
from dashboard.monitor import MonitorError, agent_interface, originate, spy_request
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
