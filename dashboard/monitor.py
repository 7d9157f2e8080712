"""Live monitoring: the supervisor's phone is called through AMI Originate and connected to
ChanSpy on the agent's channel, in the mode asked for:

    listen   ChanSpy(<agent>,q)    hear both sides, nobody hears the supervisor
    whisper  ChanSpy(<agent>,qw)   the agent hears the supervisor, the caller does not
    barge    ChanSpy(<agent>,qB)   both hear the supervisor

`q` keeps ChanSpy from announcing the spied channel's name to the supervisor. Every attempt
(successful or not) is written to the audit log by the route.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ivr.queueing.ami import AmiError, connect_ami, response_of, send
from ivr.settings import Settings

Mode = Literal["listen", "whisper", "barge"]
OPTIONS: dict[str, str] = {"listen": "q", "whisper": "qw", "barge": "qB"}
# Channel names reach a dialplan application argument: no commas, quotes, spaces or pipes.
CHANNEL_PREFIX = re.compile(r"^[A-Za-z]+/[A-Za-z0-9_.@-]{1,80}$")
ENDPOINT = re.compile(r"^[A-Za-z]+/[A-Za-z0-9_.@/-]{1,80}$")
AMI_LIMIT_S = 5.0
RING_TIMEOUT_MS = 30000


class MonitorError(ValueError):
    """Bad mode, agent or endpoint (400) or AMI trouble (502); the message names which."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class SpyRequest:
    mode: Mode
    target: str  # channel prefix of the agent's call, e.g. PJSIP/1001
    endpoint: str  # the supervisor's phone, e.g. PJSIP/2001

    def action(self, supervisor: str) -> dict[str, str]:
        return {
            "Action": "Originate", "Channel": self.endpoint, "Application": "ChanSpy",
            "Data": f"{self.target},{OPTIONS[self.mode]}", "CallerID": f'"{self.mode} {self.target}" <monitor>',
            "Timeout": str(RING_TIMEOUT_MS), "Async": "true",
            "Variable": f"IVR_MONITOR_BY={supervisor}",
        }


def spy_request(mode: str, agent: str, endpoint: str) -> SpyRequest:
    """Checks every part; `agent` is an agent id (1001) or a channel prefix (PJSIP/1001)."""
    if mode not in OPTIONS:
        raise MonitorError(400, f"mode {mode!r}: one of {', '.join(OPTIONS)}")
    target = agent if "/" in agent else f"PJSIP/{agent}"
    if not CHANNEL_PREFIX.match(target):
        raise MonitorError(400, f"agent {agent[:80]!r}: not an agent id or channel like PJSIP/1001")
    if not ENDPOINT.match(endpoint):
        raise MonitorError(400, f"supervisor phone {endpoint[:80]!r}: set one like PJSIP/2001 "
                                "(`ivr users add --endpoint` or IVR_SUPERVISOR_ENDPOINT)")
    return SpyRequest(mode=mode, target=target, endpoint=endpoint)  # type: ignore[arg-type]


async def originate(settings: Settings, request: SpyRequest, supervisor: str) -> str:
    """Queues the call to the supervisor's phone; returns Asterisk's answer, MonitorError(502) if refused."""
    try:
        manager = await connect_ami(settings, AMI_LIMIT_S)
    except AmiError as exc:
        raise MonitorError(502, f"live monitor unavailable: {exc}") from exc
    try:
        reply = response_of(await send(manager, request.action(supervisor), AMI_LIMIT_S))
    except AmiError as exc:
        raise MonitorError(502, str(exc)) from exc
    finally:
        manager.close()
    if not getattr(reply, "success", False):
        raise MonitorError(502, f"Asterisk refused Originate to {request.endpoint}: "
                                f"{getattr(reply, 'message', reply)}")
    return str(getattr(reply, "message", "queued"))
