"""Live monitoring: the supervisor's phone is called through AMI Originate and connected to
ChanSpy on the agent's channel, in the mode asked for:

    listen   ChanSpy(<agent>,q)    hear both sides, nobody hears the supervisor
    whisper  ChanSpy(<agent>,qw)   the agent hears the supervisor, the caller does not
    barge    ChanSpy(<agent>,qB)   both hear the supervisor

`q` keeps ChanSpy from announcing the spied channel's name to the supervisor. Every attempt
(successful or not) is written to the audit log by the route.

Only an agent of queues.yaml can be spied on, named exactly (1001 or PJSIP/1001). ChanSpy matches
channel names by prefix, so it gets the interface plus the "-" that starts the channel's unique
suffix (PJSIP/1001-00000012): PJSIP/1001 must not reach PJSIP/10012's calls.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ivr.queueing.ami import connect_ami, response_of, send
from ivr.queueing.pbx import interface
from ivr.settings import Settings

Mode = Literal["listen", "whisper", "barge"]
OPTIONS: dict[str, str] = {"listen": "q", "whisper": "qw", "barge": "qB"}
# Channel names reach a dialplan application argument: no commas, quotes, spaces or pipes.
CHANNEL_PREFIX = re.compile(r"^[A-Za-z]+/[A-Za-z0-9_.@-]{1,80}$")
ENDPOINT = re.compile(r"^[A-Za-z]+/[A-Za-z0-9_.@/-]{1,80}$")
AMI_LIMIT_S = 5.0
RING_TIMEOUT_MS = 30000


class MonitorError(ValueError):
    """Bad mode, agent or endpoint (400), Asterisk unreachable (503) or refusing (502); the message
    names which."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class SpyRequest:
    mode: Mode
    target: str  # the agent's interface, e.g. PJSIP/1001
    endpoint: str  # the supervisor's phone, e.g. PJSIP/2001

    def action(self, supervisor: str) -> dict[str, str]:
        return {
            "Action": "Originate", "Channel": self.endpoint, "Application": "ChanSpy",
            "Data": f"{self.target}-,{OPTIONS[self.mode]}", "CallerID": f'"{self.mode} {self.target}" <monitor>',
            "Timeout": str(RING_TIMEOUT_MS), "Async": "true",
            "Variable": f"IVR_MONITOR_BY={supervisor}",
        }


def agent_interface(agent: str, configured: Iterable[str]) -> str:
    """The interface of a configured agent named by id (1001) or interface (PJSIP/1001), exactly."""
    known = sorted(configured)
    for agent_id in known:
        if agent in (agent_id, interface(agent_id)):
            return interface(agent_id)
    raise MonitorError(400, f"agent {agent[:80]!r}: not an agent of queues.yaml (known: "
                            f"{', '.join(known[:20]) or 'none'}); give the id, e.g. 1001, or PJSIP/1001")


def spy_request(mode: str, target: str, endpoint: str) -> SpyRequest:
    """Checks every part; `target` is the agent's interface (agent_interface)."""
    if mode not in OPTIONS:
        raise MonitorError(400, f"mode {mode!r}: one of {', '.join(OPTIONS)}")
    if not CHANNEL_PREFIX.match(target):
        raise MonitorError(400, f"agent {target[:80]!r}: not a channel like PJSIP/1001")
    if not ENDPOINT.match(endpoint):
        raise MonitorError(400, f"supervisor phone {endpoint[:80]!r}: set one like PJSIP/2001 "
                                "(`ivr users add --endpoint` or IVR_SUPERVISOR_ENDPOINT)")
    return SpyRequest(mode=mode, target=target, endpoint=endpoint)  # type: ignore[arg-type]


async def originate(settings: Settings, request: SpyRequest, supervisor: str) -> str:
    """Queues the call to the supervisor's phone; returns Asterisk's answer. MonitorError 503 when
    Asterisk cannot be reached, 502 when it does not answer or refuses."""
    try:
        manager = await connect_ami(settings, AMI_LIMIT_S)
    except Exception as exc:  # whatever panoramisk raises: the supervisor gets an answer naming Asterisk
        raise MonitorError(503, f"live monitor unavailable: Asterisk (AMI) cannot be reached: {exc}") from exc
    try:
        reply = response_of(await send(manager, request.action(supervisor), AMI_LIMIT_S))
    except Exception as exc:  # whatever panoramisk raises: the supervisor gets an answer naming Asterisk
        raise MonitorError(502, f"Asterisk did not take Originate to {request.endpoint}: {exc}") from exc
    finally:
        manager.close()
    if not getattr(reply, "success", False):
        raise MonitorError(502, f"Asterisk refused Originate to {request.endpoint}: "
                                f"{getattr(reply, 'message', reply)}")
    return str(getattr(reply, "message", "queued"))
