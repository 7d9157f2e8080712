"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from ivr.records import db
from ivr.records.schema import Base
from ivr.settings import Settings


@pytest.mark.timeout(60)
def test_upgrade_from_empty_reaches_head_and_matches_the_models(db_url: str) -> None:
    engine = db.make_engine(db_url)
    assert db.current_revision(engine) is None
    db.upgrade(engine)
    db.upgrade(engine)  # at head: nothing to do
    assert db.current_revision(engine) == db.head_revision() is not None
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    names = {i["name"] for i in inspect(engine).get_indexes("calls")}
    assert {"ix_calls_agent", "ix_calls_queue", "ix_calls_outcome", "ix_calls_category", "ix_calls_started"} <= names
    engine.dispose()


@pytest.mark.timeout(30)
def test_default_url_is_sqlite_in_the_state_dir_and_postgres_uses_psycopg3(tmp_path: Path) -> None:
    assert db.database_url(Settings(state_dir=tmp_path)) == f"sqlite:///{tmp_path}/hotline.db"
    pg = Settings(state_dir=tmp_path, database_url="postgresql://u@h:5432/x")
    assert db.database_url(pg) == "postgresql+psycopg://u@h:5432/x"


@pytest.mark.timeout(30)
def test_engine_fixture_is_at_head(engine: Engine) -> None:
    assert db.current_revision(engine) == db.head_revision()


@pytest.mark.timeout(120)
def test_processes_and_threads_upgrading_at_once_take_turns(db_url: str) -> None:
    # `ivr serve` and the dashboard start together on a new database: neither may fail.
    code = "import sys; from ivr.records import db; db.upgrade(db.make_engine(sys.argv[1]))"
    procs = [subprocess.Popen([sys.executable, "-c", code, db_url], stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    errors: list[str] = []

    def in_thread() -> None:
        try:
            db.upgrade(db.make_engine(db_url))
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=in_thread) for _ in range(3)]
    for t in threads:
        t.start()
    results = [(p.wait(60), p.stderr.read() if p.stderr else "") for p in procs]
    for t in threads:
        t.join(60)
    assert errors == [] and all(rc == 0 for rc, _ in results), (errors, results)
    assert db.current_revision(db.make_engine(db_url)) == db.head_revision()
