"""Alembic's entry point, run by ivr.records.db.upgrade with the engine in the config's attributes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, text

from ivr.records.schema import Base

MIGRATION_LOCK = 0x1E0C0DB  # any fixed number: the key of the advisory lock of our migrations


def run() -> None:
    engine = context.config.attributes.get("engine")
    if not isinstance(engine, Engine):
        raise RuntimeError("records migrations run through ivr.records.db.upgrade (or `ivr db upgrade`)")
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Two nodes starting at once migrate one after the other (the second finds it done).
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        # render_as_batch: SQLite alters a table by copying it, which Alembic does in batch mode.
        context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
        context.run_migrations()


run()
