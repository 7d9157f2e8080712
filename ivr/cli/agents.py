"""`ivr agents`: log agents in and out of queues, pause them with a reason, list them; edit the VIP list.

Agents and the queues they may join come from queues.yaml (IVR_FLOWS_DIR); Asterisk is reached
over AMI with IVR_AMI_HOST/PORT/USER/SECRET, the VIP list in Redis with IVR_REDIS_URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

if TYPE_CHECKING:
    from ivr.queueing.agents import AgentControl
    from ivr.queueing.model import QueueConfig
    from ivr.queueing.priority import VipList

app = typer.Typer(help="Queue agents: login, logout, pause, unpause, list; VIP numbers.", no_args_is_help=True)
T = TypeVar("T")
QueueOpt = Annotated[str | None, typer.Option("--queue", "-q", help="only this queue (default: all theirs)")]


def _fail(exc: BaseException) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


def _config() -> QueueConfig:
    from ivr.queueing.config import QueueConfigError, load_queue_config
    from ivr.settings import load_settings

    try:
        return load_queue_config(load_settings().flows_dir / "queues.yaml")
    except QueueConfigError as exc:
        raise _fail(exc) from exc


def _with_agents(action: Callable[[AgentControl], Awaitable[T]]) -> T:
    """Runs `action(control)` on a fresh AMI connection; refusals become one line on stderr, exit 1."""
    from ivr.queueing.agents import AgentControl, AgentError
    from ivr.queueing.ami import AmiError, connect_ami
    from ivr.settings import load_settings

    settings, cfg = load_settings(), _config()

    async def go() -> T:
        manager = await connect_ami(settings)
        try:
            return await action(AgentControl(manager, cfg))
        finally:
            manager.close()

    try:
        return asyncio.run(go())
    except (AgentError, AmiError, ValueError) as exc:
        raise _fail(exc) from exc


def _with_vips(action: Callable[[VipList], Awaitable[T]]) -> T:
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    from ivr.queueing.priority import VipList
    from ivr.settings import load_settings

    settings, cfg = load_settings(), _config()

    async def go() -> T:
        r = Redis.from_url(settings.redis_url, socket_timeout=5, decode_responses=True)
        try:
            return await action(VipList(r, cfg))
        finally:
            await r.aclose()

    try:
        return asyncio.run(go())
    except ValueError as exc:
        raise _fail(exc) from exc
    except (RedisError, OSError) as exc:
        raise _fail(RuntimeError(f"Redis at {settings.redis_url} (IVR_REDIS_URL): {exc}")) from exc


@app.command()
def login(
    queue: Annotated[str, typer.Argument(help="queue name from queues.yaml")],
    agent: Annotated[str, typer.Argument(help="agent id from queues.yaml, e.g. 1001")],
    penalty: Annotated[int | None, typer.Option(help="override the penalty set in queues.yaml")] = None,
) -> None:
    """Add the agent's phone to a queue (idempotent)."""
    typer.echo(_with_agents(lambda c: c.login(queue, agent, penalty)))


@app.command()
def logout(agent: Annotated[str, typer.Argument(help="agent id")], queue: QueueOpt = None) -> None:
    """Remove the agent from a queue, or from all their queues."""
    left = _with_agents(lambda c: c.logout(agent, queue))
    typer.echo(f"{agent} logged out of {', '.join(left)}" if left else f"{agent} was not logged in")


@app.command()
def pause(
    agent: Annotated[str, typer.Argument(help="agent id")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="why (break, training, ...); required")],
    queue: QueueOpt = None,
) -> None:
    """Stop offering calls to the agent, with a reason."""
    typer.echo(_with_agents(lambda c: c.pause(agent, reason, queue)))


@app.command()
def unpause(agent: Annotated[str, typer.Argument(help="agent id")], queue: QueueOpt = None) -> None:
    """Offer calls to the agent again."""
    typer.echo(_with_agents(lambda c: c.unpause(agent, queue)))


@app.command(name="list")
def list_(queue: QueueOpt = None) -> None:
    """Members of the queues as Asterisk sees them."""
    members = _with_agents(lambda c: c.members(queue))
    if not members:
        typer.echo("no agent is logged in")
    for m in members:
        paused = f"paused ({m.paused_reason or 'no reason'})" if m.paused else "ready"
        typer.echo(f"{m.queue:<12} {m.agent:<8} {m.name:<10} {paused:<24} {m.status:<12} "
                   f"penalty {m.penalty}, {m.calls_taken} calls")


@app.command(name="vip-add")
def vip_add(number: Annotated[str, typer.Argument(help="caller ID, e.g. 13800138000")]) -> None:
    """Answer this number before other callers (same prompts, higher queue priority)."""
    typer.echo(f"VIP {_with_vips(lambda v: v.add(number))}")


@app.command(name="vip-remove")
def vip_remove(number: Annotated[str, typer.Argument(help="caller ID")]) -> None:
    """Remove a number added at run time (numbers in queues.yaml are removed by editing it)."""
    typer.echo("removed" if _with_vips(lambda v: v.remove(number)) else "not in the run-time VIP list")


@app.command(name="vip-list")
def vip_list() -> None:
    """Every VIP number: queues.yaml's and the run-time list's."""
    for n in sorted(_with_vips(lambda v: v.numbers())):
        typer.echo(n)
