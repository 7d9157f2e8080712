"""The records database: its URL from the settings, an engine tuned per dialect, and the schema's
migrations (Alembic, configured here in code: the wheel carries no alembic.ini).

`IVR_DATABASE_URL` empty means SQLite in the state dir (`make demo` needs nothing more); a
`postgresql://` URL uses psycopg 3. Everything here is synchronous: async code calls it through
`asyncio.to_thread` (ivr/records/mover.py, the dashboard), so a slow query never holds a loop.
"""

from __future__ import annotations

import fcntl
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event

from ivr.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_FILE = "hotline.db"
_UPGRADING = threading.Lock()


def database_url(settings: Settings) -> str:
    """The SQLAlchemy URL: IVR_DATABASE_URL, else the SQLite file in the state dir."""
    url = settings.database_url.strip()
    if not url:
        return f"sqlite:///{settings.state_dir / SQLITE_FILE}"
    if url.startswith(("postgresql://", "postgres://")):
        # The bare scheme means psycopg2 to SQLAlchemy; psycopg 3 is what we ship.
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL: the dashboard reads while `ivr serve`'s mover writes; busy_timeout: two writers wait
    # for each other instead of failing at once.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def make_engine(url: str, *, connect_timeout: float = 3.0) -> Engine:
    """An engine for `url`. Connections are checked before use, so a database that went away and came
    back is reconnected to rather than failing every later query."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": connect_timeout}, pool_pre_ping=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, pool_timeout=connect_timeout,
                         connect_args={"connect_timeout": max(1, int(connect_timeout))})


def engine_from_settings(settings: Settings) -> Engine:
    return make_engine(database_url(settings))


def _alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent: at head it does nothing). Two processes upgrading at
    once (ivr serve and the dashboard starting together) take turns: PostgreSQL by an advisory lock
    (migrations/env.py), a SQLite file by a lock file beside it."""
    path = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    with _UPGRADING:  # Alembic's context is module-global: one upgrade per process at a time
        if not path or path == ":memory:":
            command.upgrade(_alembic_config(engine), revision)
            return
        with open(f"{path}.migrate-lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            command.upgrade(_alembic_config(engine), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config(make_engine("sqlite://"))).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision; None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
