"""Weekly QA samples in SQL: one row per week, drawn once (the week is the primary key, so two
processes drawing at once keep the first sample and the second reads it), and the pool a week's sample is
drawn from: the calls an agent took that have a recording (ix_calls_pool covers every query here)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ivr.records.schema import CallRow, SampleRow

POOL_CHUNK = 256


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


def _pool_where(since: float, until: float) -> list[ColumnElement[bool]]:
    # The columns of ix_calls_pool only: these queries read the index, never the rows.
    c = CallRow
    return [c.started_at >= since, c.started_at <= until, c.has_recording.is_(True), c.agent.is_not(None)]


def pool(conn: Connection, since: float, until: float) -> dict[str, str]:
    """call_id -> agent of the calls started in [since, until] that an agent took and that have a recording.

    A week is tens of thousands of rows: read through the driver's cursor a few hundred at a time, since
    SQLAlchemy's row objects cost more than the query, and a whole week of live row tuples makes Python's
    collector run full passes that stop every thread (the dashboard's event loop too) for ~100 ms."""
    stmt = select(CallRow.call_id, CallRow.agent).where(*_pool_where(since, until))
    compiled = stmt.compile(dialect=conn.dialect)
    params = tuple(compiled.params[k] for k in compiled.positiontup or ()) if compiled.positional else compiled.params
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), params)
        out: dict[str, str] = {}
        while rows := cursor.fetchmany(POOL_CHUNK):
            out.update(rows)
        return out
    finally:
        cursor.close()


def pool_fingerprint(conn: Connection, since: float, until: float) -> tuple[int, float | None]:
    """(how many calls, the newest move among them): changes whenever a call of the pool is added, moved
    again (re-written, e.g. its agent) or removed."""
    row = conn.execute(select(func.count(), func.max(CallRow.moved_at)).where(*_pool_where(since, until))).one()
    return int(row[0]), row[1]


def in_pool(conn: Connection, since: float, until: float, call_ids: list[str]) -> set[str]:
    """Which of `call_ids` the SQL pool of [since, until] already has."""
    where = [*_pool_where(since, until), CallRow.call_id.in_(call_ids)]
    return {cid for (cid,) in conn.execute(select(CallRow.call_id).where(*where))} if call_ids else set()
