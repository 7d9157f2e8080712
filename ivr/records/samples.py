"""Weekly QA samples in SQL: one row per week, drawn once (the week is the primary key, so two
processes drawing at once keep the first sample and the second reads it)."""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ivr.records.schema import SampleRow


def get(conn: Connection, week: str) -> str | None:
    """The sample's JSON, None when the week is not drawn."""
    return conn.execute(select(SampleRow.body).where(SampleRow.week == week)).scalar_one_or_none()


def insert_once(conn: Connection, week: str, week_end: float, drawn_at: float, body: str) -> bool:
    """Store the week's sample unless one is there; True if this one was stored."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stored = conn.execute(insert(SampleRow).values(week=week, week_end=week_end, drawn_at=drawn_at, body=body)
                          .on_conflict_do_nothing(index_elements=["week"]).returning(SampleRow.week)).first()
    return stored is not None  # (rowcount is not reliable for DO NOTHING on every driver)


def purge_ended_by(conn: Connection, cutoff: float, dry_run: bool) -> int:
    """Samples of weeks wholly at or before `cutoff` (their week_end <= cutoff)."""
    old = SampleRow.week_end <= cutoff
    if dry_run:
        return int(conn.execute(select(func.count()).select_from(SampleRow).where(old)).scalar_one())
    return int(conn.execute(delete(SampleRow).where(old)).rowcount)
