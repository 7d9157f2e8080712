"""A private PostgreSQL for tests (harness.local_postgres): one server per session, a fresh database
per test. A machine without the Debian package skips; under CI=true it fails, never skips."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from harness.local_postgres import LocalPostgres, postgres_bindir
from tests.support.components import missing

_names = itertools.count(1)


def start_postgres() -> LocalPostgres:
    if postgres_bindir() is None:
        missing("PostgreSQL server (Debian package postgresql: initdb, pg_ctl)")
    server = LocalPostgres()
    server.start()
    return server


def fresh_database(server: LocalPostgres) -> str:
    """A new empty database on `server`; its URL."""
    name = f"t{next(_names)}"
    admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return server.url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    server = start_postgres()
    yield server
    server.stop()
