"""`ivr users`: dashboard accounts (supervisors and admins), stored in Redis with argon2 hashes.

Passwords are prompted for (hidden, asked twice) or, when standard input is not a terminal or
--password-stdin is given, read from its first line, so scripts never put them on a command line.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

if TYPE_CHECKING:
    from dashboard.sessions import SessionStore
    from dashboard.users import UserStore

app = typer.Typer(help="Dashboard users: add, list, change passwords, remove.", no_args_is_help=True)
T = TypeVar("T")
StdinOpt = Annotated[bool, typer.Option("--password-stdin", help="read the password from standard input")]


def _read_password(name: str, from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise typer.BadParameter("no password on standard input (give one line)")
        return line.rstrip("\r\n")
    password: str = typer.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)
    return password


def _run(action: Callable[[UserStore], Awaitable[T]]) -> T:
    """Runs `action(store)` against the configured Redis; errors become a one-line message, exit 1."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    from dashboard.users import UserError, UserStore
    from ivr.settings import load_settings

    settings = load_settings()

    async def go() -> T:
        r = Redis.from_url(settings.redis_url, decode_responses=True)
        try:
            return await action(UserStore(r))
        finally:
            await r.aclose()

    try:
        return asyncio.run(go())
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except (RedisError, OSError) as exc:
        typer.echo(f"error: Redis at {settings.redis_url} (IVR_REDIS_URL): {exc}", err=True)
        raise typer.Exit(1) from exc


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="login name: 2-32 of a-z 0-9 . _ -")],
    role: Annotated[str, typer.Option(help="supervisor or admin")] = "supervisor",
    endpoint: Annotated[str, typer.Option(help="the user's phone for live monitoring, e.g. PJSIP/2001")] = "",
    password_stdin: StdinOpt = False,
) -> None:
    """Create a user; the password is prompted for (or read from standard input)."""
    from dashboard.users import check_name, check_role

    try:
        check_name(name)
        check_role(role)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    password = _read_password(name, password_stdin)
    user = _run(lambda store: store.add(name, role, password, endpoint))
    typer.echo(f"created {user.name} ({user.role})")


@app.command("list")
def list_users() -> None:
    """Every user with role, phone and creation time."""
    users = _run(lambda store: store.list())
    if not users:
        typer.echo("no users (create one: ivr users add NAME --role admin)")
        return
    for u in users:
        created = datetime.fromtimestamp(u.created).strftime("%Y-%m-%d %H:%M") if u.created else "-"
        flag = "  DEFAULT PASSWORD" if u.default_password else ""
        typer.echo(f"{u.name:<20} {u.role:<11} {u.endpoint or '-':<20} {created}{flag}")


def _sessions(store: UserStore) -> SessionStore:
    """The dashboard's session store with the dashboard's lifetimes (they decide when the index is complete)."""
    from dashboard.sessions import SessionStore
    from ivr.settings import load_settings

    settings = load_settings()
    return SessionStore(store.redis, settings.dashboard_session_idle, settings.dashboard_session_max)


@app.command()
def passwd(name: str, password_stdin: StdinOpt = False) -> None:
    """Set a new password; the user's open dashboard sessions end."""
    if _run(lambda store: store.get(name)) is None:
        typer.echo(f"error: no user {name!r} (create it with `ivr users add`)", err=True)
        raise typer.Exit(1)
    password = _read_password(name, password_stdin)

    async def change(store: UserStore) -> int:
        await store.set_password(name, password)
        return await _sessions(store).delete_user(name)

    ended = _run(change)
    typer.echo(f"password changed for {name}; {ended} session(s) ended")


@app.command()
def remove(name: str) -> None:
    """Delete a user and end their sessions."""
    async def go(store: UserStore) -> bool:
        await _sessions(store).delete_user(name)
        return await store.remove(name)

    if not _run(go):
        typer.echo(f"error: no user {name!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"removed {name}")
