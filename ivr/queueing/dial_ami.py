"""The callback dialer's AMI side: one connection (no hidden reconnects: a lost one is dropped and made
again on the next use), QueueStatus for who waits and which agent is free, and the Originate of one dial
with its outcome from the dialplan's UserEvent(IvrCallback). ivr.queueing.dialer decides what to dial.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection
from typing import Any

import redis.asyncio as aioredis

from ivr import keys
from ivr.clock import WallTime
from ivr.queueing.ami import connect_ami, response_of, send
from ivr.queueing.callbacks import CallbackRequest, Outcome
from ivr.queueing.pbx import interface
from ivr.settings import Settings

CALLBACK_CONTEXT = "ivr-callback"
CUSTOMER_STATUS: dict[str, Outcome] = {"ANSWER": "answered", "NOANSWER": "customer_no_answer",
                                       "BUSY": "customer_busy"}
REDIS_TIMEOUT = 1.0


class CallbackAmi:
    def __init__(self, settings: Settings, agents: Collection[str], ring_s: int, wall: WallTime) -> None:
        """`agents`: the members a callback may go to; `ring_s`: "3 rings", for the agent and the customer."""
        self.settings, self.agents, self.ring_s, self.wall = settings, agents, ring_s, wall
        self._manager: Any = None
        self._lost = asyncio.Event()
        self._results: dict[str, asyncio.Future[str]] = {}

    def ours(self, callback_id: str) -> bool:
        """A dial of this callback is in progress on this connection (its outcome comes here)."""
        return callback_id in self._results

    async def line(self, redis: aioredis.Redis, queue: str) -> tuple[list[tuple[float, int]], str | None]:
        """Asterisk's truth (QueueStatus): the callers waiting as (since, priority), and a free agent.

        `since` is the caller's ORIGINAL entry time from the live state when the listener has it (the
        engine re-enters Queue() after each announcement, which restarts Asterisk's Wait)."""
        reply = await send(await self._ami(), {"Action": "QueueStatus", "Queue": queue}, 10.0, as_list=True)
        messages = reply if isinstance(reply, list) else [reply]
        known = await asyncio.wait_for(redis.hgetall(keys.queue_callers(queue)), REDIS_TIMEOUT)
        live = {(k.decode() if isinstance(k, bytes) else k): json.loads(v) for k, v in known.items()}
        now, waiting, free = self.wall(), [], None
        for m in messages:
            event = str(m.get("Event", ""))
            if event == "QueueEntry":
                entry = live.get(str(m.get("Uniqueid")), {})
                since = float(entry.get("since") or now - float(m.get("Wait") or 0))
                waiting.append((since, int(m.get("Priority") or 0)))
            elif event == "QueueMember" and free is None:
                member = str(m.get("Location") or m.get("Interface") or "").removeprefix("PJSIP/")
                idle = str(m.get("Status")) == "1" and str(m.get("InCall")) != "1"
                if idle and str(m.get("Paused")) != "1" and member in self.agents:
                    free = member
        return waiting, free

    async def _ami(self) -> Any:
        if self._manager is not None and not self._lost.is_set():
            return self._manager
        self.close()
        manager = await connect_ami(self.settings, events="user,call")
        self._lost = asyncio.Event()
        lost = self._lost
        setattr(manager, "connect", lambda *a, **k: None)  # noqa: B010 - no hidden panoramisk reconnects
        setattr(manager, "on_disconnect", lambda *_: lost.set())  # noqa: B010
        manager.register_event("UserEvent", self._on_user_event)
        self._manager = manager
        return manager

    def close(self) -> None:
        if self._manager is not None:
            self._manager.close()
            self._manager = None

    def _on_user_event(self, _manager: Any, event: Any) -> None:
        if str(event.get("UserEvent", "")) != "IvrCallback":
            return
        fut = self._results.get(str(event.get("Id", "")))
        if fut is not None and not fut.done():
            fut.set_result(str(event.get("Status", "")).upper())

    async def dial(self, cb: CallbackRequest, agent: str, dial: str, masked: str) -> tuple[Outcome, dict[str, Any]]:
        """Originate to the agent's phone into `ivr-callback`, which dials the customer; the outcome from its
        UserEvent(IvrCallback), or failed when none comes in time."""
        manager = await self._ami()
        result: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._results[cb.id] = result
        action = {
            "Action": "Originate", "Channel": interface(agent), "Context": CALLBACK_CONTEXT, "Exten": "s",
            "Priority": "1", "Timeout": str(self.ring_s * 1000), "Async": "true",
            "CallerID": f'"callback {cb.queue}" <{cb.number}>',
            "Variable": f"IVR_CB_ID={cb.id},IVR_CB_DIAL={dial},IVR_CB_TIMEOUT={self.ring_s}",
        }
        detail: dict[str, Any] = {"agent": agent, "dial": masked}
        try:
            reply = await send(manager, action, self.ring_s + 15.0, as_list=True)
            messages = reply if isinstance(reply, list) else [reply]
            origin = messages[-1] if len(messages) > 1 else response_of(reply)
            if str(origin.get("Response", "")) != "Success":
                detail["reason"] = str(origin.get("Reason") or origin.get("Message") or "")
                return "agent_no_answer", detail
            status = await asyncio.wait_for(result, self.ring_s + 30.0)
        except TimeoutError:
            detail["reason"] = "no outcome from the dialplan"
            return "failed", detail
        finally:
            self._results.pop(cb.id, None)
        detail["dialstatus"] = status
        return CUSTOMER_STATUS.get(status, "failed"), detail
