"""The records database under test: each test runs on SQLite (a file in tmp_path) and on a real
PostgreSQL (tests.support.postgres), with the schema migrated to head."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from harness.local_postgres import LocalPostgres
from ivr.records import db
from tests.support.postgres import fresh_database, postgres_server

__all__ = ["postgres_server"]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'records.db'}"
    server: LocalPostgres = request.getfixturevalue("postgres_server")
    return fresh_database(server)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = db.make_engine(db_url)
    db.upgrade(eng)
    yield eng
    eng.dispose()
