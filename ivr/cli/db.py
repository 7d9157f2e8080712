"""`ivr db`: the records database (docs/storage.md). `upgrade` brings its schema to the version this
release ships (run it after installing a new release, before starting the services); `current` says
where it is."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="The records database: calls, QA scores, audit log (SQLite or PostgreSQL).",
                  no_args_is_help=True)


def _safe(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest and ":" in rest.split("@", 1)[0]:
        rest = rest.split(":", 1)[0] + ":***@" + rest.split("@", 1)[1]  # never print a password
    return f"{scheme}{sep}{rest}"


@app.command("upgrade")
def upgrade(revision: Annotated[str, typer.Argument(help="Schema revision")] = "head") -> None:
    """Create or migrate the schema (idempotent)."""
    from ivr.records import db
    from ivr.settings import load_settings

    url = db.database_url(load_settings())
    engine = db.make_engine(url)
    try:
        before = db.current_revision(engine)
        db.upgrade(engine, revision)
        after = db.current_revision(engine)
    except Exception as exc:
        typer.echo(f"{_safe(url)}: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    typer.echo(f"{_safe(url)}: schema {before or 'empty'} -> {after}")


@app.command("current")
def current() -> None:
    """The schema revision of the database and the one this release needs; exit 1 when they differ."""
    from ivr.records import db
    from ivr.settings import load_settings

    url = db.database_url(load_settings())
    engine = db.make_engine(url)
    try:
        have = db.current_revision(engine)
    except Exception as exc:
        typer.echo(f"{_safe(url)}: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    head = db.head_revision()
    typer.echo(f"{_safe(url)}: schema {have or 'empty'}, this release needs {head}")
    if have != head:
        typer.echo("run `ivr db upgrade`", err=True)
        raise typer.Exit(1)


@app.command("migrate-redis")
def migrate_redis() -> None:
    """Copy call records, QA scores, weekly samples, the audit log and finished callbacks kept in Redis alone into
    the records database (idempotent: a second run, or one while the services run, writes nothing twice)."""
    import asyncio
    import logging
    from zoneinfo import ZoneInfo

    from ivr import keys
    from ivr.records import db
    from ivr.records.migrate import migrate_redis as run
    from ivr.retention_store import week_end
    from ivr.settings import load_settings
    from ivr.state.redis import RedisHub

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = load_settings()
    tz = ZoneInfo(settings.timezone)
    url = db.database_url(settings)
    engine = db.make_engine(url)

    async def go() -> None:
        hub = RedisHub(settings.redis_url)
        try:
            done = await run(hub, engine, live_ttl_s=keys.call_record_live_ttl_s(settings), audit_keep_s=keys.DAY_S,
                             week_end=lambda w: (end.timestamp() if (end := week_end(w, tz)) else None))
        finally:
            await hub.close()
        typer.echo(f"{_safe(url)}: {done.calls} call record(s), {done.scores} new QA score(s), "
                   f"{done.samples} new weekly sample(s), {done.audit} audit entr(ies), "
                   f"{done.callbacks} finished callback(s) copied from Redis")

    try:
        db.upgrade(engine)
        asyncio.run(go())
    except Exception as exc:
        typer.echo(f"migrate-redis failed: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
