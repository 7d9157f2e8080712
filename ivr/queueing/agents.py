"""Agents log in, log out, pause and unpause through AMI (QueueAdd/QueueRemove/QueuePause).

The action builders are pure so the exact AMI headers are tested; AgentControl validates against
queues.yaml (known agent, allowed queue) before anything reaches Asterisk.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from ivr.queueing.ami import AmiClient, AmiError, response_of, send
from ivr.queueing.misses import agent_from_interface
from ivr.queueing.model import QueueConfig
from ivr.queueing.pbx import interface

# ast_device_state values as QueueMember's Status reports them.
DEVICE_STATES = {
    "0": "unknown", "1": "not_in_use", "2": "in_use", "3": "busy", "4": "invalid",
    "5": "unavailable", "6": "ringing", "7": "ringinuse", "8": "onhold",
}


class AgentError(ValueError):
    """A request that queues.yaml does not allow (unknown agent, queue not theirs, empty reason)."""


class MemberStatus(BaseModel):
    model_config = ConfigDict(frozen=True)
    queue: str
    agent: str
    name: str
    penalty: int
    paused: bool
    paused_reason: str
    in_call: bool
    status: str
    calls_taken: int
    last_call: int  # epoch seconds, 0 = none yet


def queue_add_action(queue: str, agent: str, name: str, penalty: int) -> dict[str, str]:
    iface = interface(agent)
    return {"Action": "QueueAdd", "Queue": queue, "Interface": iface, "Penalty": str(penalty),
            "Paused": "false", "MemberName": name, "StateInterface": iface}


def queue_remove_action(queue: str, agent: str) -> dict[str, str]:
    return {"Action": "QueueRemove", "Queue": queue, "Interface": interface(agent)}


def queue_pause_action(agent: str, paused: bool, reason: str = "", queue: str | None = None) -> dict[str, str]:
    """Without `queue` Asterisk (un)pauses the agent in every queue they are in."""
    action = {"Action": "QueuePause", "Interface": interface(agent), "Paused": "true" if paused else "false"}
    if reason:
        action["Reason"] = reason
    if queue is not None:
        action["Queue"] = queue
    return action


def _member(msg: Any) -> MemberStatus | None:
    if str(msg.get("Event", "")).lower() != "queuemember":
        return None
    location = str(msg.get("Location") or msg.get("Interface") or "")
    try:
        agent = agent_from_interface(location)
    except ValueError:
        agent = location
    return MemberStatus(
        queue=str(msg.get("Queue", "")), agent=agent, name=str(msg.get("Name") or msg.get("MemberName") or ""),
        penalty=int(msg.get("Penalty") or 0), paused=str(msg.get("Paused")) == "1",
        paused_reason=str(msg.get("PausedReason") or ""), in_call=str(msg.get("InCall")) == "1",
        status=DEVICE_STATES.get(str(msg.get("Status")), "unknown"),
        calls_taken=int(msg.get("CallsTaken") or 0), last_call=int(msg.get("LastCall") or 0),
    )


class AgentControl:
    def __init__(self, ami: AmiClient, cfg: QueueConfig, timeout: float = 5.0) -> None:
        self._ami = ami
        self._cfg = cfg
        self._timeout = timeout

    def _agent(self, agent: str) -> None:
        if agent not in self._cfg.agents:
            raise AgentError(f"unknown agent {agent!r} (queues.yaml agents: {', '.join(sorted(self._cfg.agents))})")

    async def _do(self, action: dict[str, str], ok_messages: tuple[str, ...] = ()) -> str:
        """Run an action; an Error whose message is in ok_messages (e.g. 'Already there') is a no-op."""
        resp = response_of(await send(self._ami, action, self._timeout))
        message = str(resp.get("Message", ""))
        if resp.success:
            return message
        if any(ok in message for ok in ok_messages):
            return message
        raise AmiError(f"AMI {action['Action']} {action.get('Queue', '')} {action['Interface']}: {message}")

    async def login(self, queue: str, agent: str, penalty: int | None = None) -> str:
        """Add the agent's phone to `queue` (one of their queues in queues.yaml); idempotent."""
        self._agent(agent)
        allowed = self._cfg.agents[agent].queues
        if queue not in allowed:
            raise AgentError(f"agent {agent!r} may not log in to {queue!r} (their queues: {', '.join(allowed)})")
        prio = allowed[queue] if penalty is None else penalty
        if prio < 0:
            raise AgentError(f"penalty must be >= 0, got {prio}")
        action = queue_add_action(queue, agent, self._cfg.agents[agent].name, prio)
        return await self._do(action, ok_messages=("Already there",))

    async def logout(self, agent: str, queue: str | None = None) -> list[str]:
        """Remove the agent from `queue`, or from all their queues; returns the queues they were in."""
        self._agent(agent)
        queues = [queue] if queue is not None else list(self._cfg.agents[agent].queues)
        left = []
        for q in queues:
            message = await self._do(queue_remove_action(q, agent), ok_messages=("Not there",))
            if "Not there" not in message:
                left.append(q)
        return left

    async def pause(self, agent: str, reason: str, queue: str | None = None) -> str:
        """Pause in every queue (or one); the reason is shown on the wallboard and in queue_log."""
        self._agent(agent)
        if not reason.strip():
            raise AgentError("a pause needs a reason (e.g. 'break', 'training', 'auto: missed 2 calls')")
        return await self._do(queue_pause_action(agent, True, reason.strip(), queue))

    async def unpause(self, agent: str, queue: str | None = None) -> str:
        self._agent(agent)
        return await self._do(queue_pause_action(agent, False, "", queue))

    async def members(self, queue: str | None = None) -> list[MemberStatus]:
        """Every queue member Asterisk knows (QueueStatus), in its order."""
        action = {"Action": "QueueStatus"}
        if queue is not None:
            action["Queue"] = queue
        reply = await send(self._ami, action, self._timeout, as_list=True)
        messages = reply if isinstance(reply, list) else [reply]
        if messages and not messages[0].success:
            raise AmiError(f"AMI QueueStatus: {messages[0].get('Message', '')}")
        return [m for m in (_member(msg) for msg in messages) if m is not None]
