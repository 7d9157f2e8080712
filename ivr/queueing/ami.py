"""A logged-in AMI connection (panoramisk) and one checked action, with timeouts.

For short-lived use (the `ivr agents` CLI, one HTTP request). The AMI listener keeps its own
long-lived connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol

from panoramisk import Manager

from ivr.settings import Settings


class AmiError(RuntimeError):
    """AMI unreachable, login refused, an action refused or unanswered."""


class AmiClient(Protocol):
    """What AgentControl needs of panoramisk's Manager."""

    def send_action(self, action: dict[str, str], as_list: bool | None = None) -> Awaitable[Any]: ...


def check_header(name: str, value: str) -> str:
    """AMI is CRLF-delimited: a value with a line break would smuggle in headers of its own."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"AMI header {name}: value {value!r} may not contain a line break")
    return value


async def send(ami: AmiClient, action: Mapping[str, str], limit_s: float, *, as_list: bool = False) -> Any:
    """Send one action; returns the response (or, with as_list, the response and its events).

    as_list=False is passed explicitly because panoramisk guesses "more events follow" from
    some messages (QueueAdd's "Added interface to queue") and would otherwise wait forever.
    """
    body = {k: check_header(k, str(v)) for k, v in action.items()}
    try:
        return await asyncio.wait_for(ami.send_action(body, as_list=as_list), limit_s)
    except TimeoutError as exc:
        raise AmiError(f"AMI {body.get('Action')}: no answer within {limit_s} s") from exc


def response_of(reply: Any) -> Any:
    """The Response message of a reply (a list when events followed)."""
    return reply[0] if isinstance(reply, list) else reply


async def connect_ami(settings: Settings, limit_s: float = 5.0, events: str = "off") -> Manager:
    """Connect and log in with IVR_AMI_HOST/PORT/USER/SECRET; AmiError names what failed."""
    where = f"AMI at {settings.ami_host}:{settings.ami_port}"
    manager = Manager(loop=asyncio.get_running_loop(), host=settings.ami_host, port=settings.ami_port,
                      username=settings.ami_user, secret=settings.ami_secret, events=events,
                      ping_delay=3600, reconnect_timeout=3600)
    try:
        await asyncio.wait_for(manager.connect(), limit_s)
    except (OSError, TimeoutError) as exc:
        manager.close()
        raise AmiError(f"cannot connect to {where}: {exc or 'timed out'}") from exc
    # connection_made ran before we resumed (it was the task's first done-callback) and sent Login.
    login = manager.authenticated_future
    try:
        reply = await asyncio.wait_for(login, limit_s) if login is not None else None
    except TimeoutError as exc:
        manager.close()
        raise AmiError(f"{where}: no answer to Login within {limit_s} s") from exc
    if reply is None or not reply.success:
        manager.close()
        why = getattr(reply, "message", "no reply")
        raise AmiError(f"{where}: login refused for user {settings.ami_user!r} ({why}); check IVR_AMI_USER/SECRET")
    return manager
