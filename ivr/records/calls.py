"""Finished calls in SQL: a Redis record turned into a row, written idempotently (an upsert on
call_id: a retry or a second node leaves one row), and read back in complete, paged, filtered lists.

Pages are keyset pages, newest first, on (started_at, call_id): every filter is a WHERE on indexed
columns, so a page costs the same at any table size and a filter returns every match, page by page.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from ivr.records.schema import CallRow

COLUMNS = CallRow.__table__.columns
UPDATABLE = [c.name for c in COLUMNS if c.name != "call_id"]
# Rows per statement: 20 columns x 500 stays under SQLite's 32766 bound parameters (PostgreSQL: 65535).
UPSERT_CHUNK = 500


def _text(value: Any, column: str) -> str | None:
    """A string column's value: None stays None, anything else is text cut to the column's length (the
    whole value stays in `record`), so one odd record cannot fail a batch on PostgreSQL."""
    if value is None:
        return None
    length = getattr(COLUMNS[column].type, "length", None)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text[:length] if length else text


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _survey_pct(survey: Any) -> float | None:
    """1..scale as 0-100 (1 is 0, the scale's top is 100), so surveys of different scales compare."""
    if not isinstance(survey, dict):
        return None
    score, scale = survey.get("score"), survey.get("scale")
    if not (isinstance(score, int) and isinstance(scale, int)) or isinstance(score, bool) or scale < 2:
        return None
    return round(100.0 * (min(max(score, 1), scale) - 1) / (scale - 1), 1)


def to_row(record: dict[str, Any], events: Sequence[Any], *, moved_at: float | None = None) -> dict[str, Any]:
    """The row of one Redis record (fields decoded from JSON) and its event list."""
    raw_timing = record.get("answer_timing")
    timing: dict[str, Any] = raw_timing if isinstance(raw_timing, dict) else {}
    survey = record.get("survey")
    score = survey.get("score") if isinstance(survey, dict) else None
    in_time = record.get("answered_within_3_rings", timing.get("within_rings"))
    started = _number(record.get("start")) or _number(record.get("end")) or 0.0
    fields = {k: v for k, v in record.items() if k != "events"}
    return {
        "call_id": str(record["call_id"]),
        "started_at": started,
        "ended_at": _number(record.get("end")),
        "duration": _number(record.get("duration")),
        **{c: _text(record.get(c), c) for c in ("caller", "called", "flow", "language", "queue", "agent",
                                                  "outcome", "category")},
        "answer_wait_s": _number(timing.get("wait_s")) if timing.get("answered") else None,
        "answered_in_time": in_time if isinstance(in_time, bool) else None,
        "survey_score": score if isinstance(score, int) and not isinstance(score, bool) else None,
        "has_recording": isinstance(record.get("recording"), dict),
        "survey_pct": _survey_pct(survey),
        "record": json.dumps(fields, ensure_ascii=False, default=str),
        "events": json.dumps(list(events), ensure_ascii=False, default=str),
        "moved_at": time.time() if moved_at is None else moved_at,
    }


def upsert_calls(conn: Connection, rows: Iterable[dict[str, Any]]) -> int:
    """Insert or update rows by call_id, UPSERT_CHUNK rows a statement; returns how many were given."""
    batch = list(rows)
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    for i in range(0, len(batch), UPSERT_CHUNK):
        stmt = insert(CallRow).values(batch[i:i + UPSERT_CHUNK])
        conn.execute(stmt.on_conflict_do_update(index_elements=["call_id"],
                                                set_={c: stmt.excluded[c] for c in UPDATABLE}))
    return len(batch)


@dataclass(frozen=True)
class CallFilter:
    """Every field optional; all given ones must match (exact; since/until inclusive)."""

    since: float | None = None
    until: float | None = None
    agent: str | None = None
    queue: str | None = None
    outcome: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after the call (started_at, call_id) in newest-first order."""

    started_at: float
    call_id: str

    def encode(self) -> str:
        return f"{self.started_at!r}~{self.call_id}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """ValueError naming the cursor when it is not one this module made."""
        at, sep, call_id = text.partition("~")
        try:
            if not sep or not call_id:
                raise ValueError
            return cls(float(at), call_id)
        except ValueError:
            raise ValueError(f"cursor {text[:100]!r}: not a cursor of this list (use the next link given)") from None


def _conditions(f: CallFilter) -> list[ColumnElement[bool]]:
    c = CallRow
    conds = [col == v for col, v in ((c.agent, f.agent), (c.queue, f.queue), (c.outcome, f.outcome),
                                      (c.category, f.category)) if v is not None]
    if f.since is not None:
        conds.append(c.started_at >= f.since)
    if f.until is not None:
        conds.append(c.started_at <= f.until)
    return conds


def page_calls(conn: Connection, f: CallFilter, limit: int,
               after: Cursor | None = None) -> tuple[list[dict[str, Any]], Cursor | None]:
    """One page of records (fields, no events), newest first, and the cursor of the next page (None: last)."""
    query = select(CallRow.call_id, CallRow.started_at, CallRow.record).where(*_conditions(f))
    if after is not None:
        query = query.where(or_(CallRow.started_at < after.started_at,
                                and_(CallRow.started_at == after.started_at, CallRow.call_id < after.call_id)))
    rows = conn.execute(query.order_by(CallRow.started_at.desc(), CallRow.call_id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    out = [json.loads(r.record) for r in rows]
    nxt = Cursor(rows[-1].started_at, rows[-1].call_id) if more and rows else None
    return out, nxt


def count_calls(conn: Connection, f: CallFilter) -> int:
    return int(conn.execute(select(func.count()).select_from(CallRow).where(*_conditions(f))).scalar_one())


def get_call(conn: Connection, call_id: str) -> dict[str, Any] | None:
    """The record with its events, as ivr.state.callrecord.CallStore.get gives it; None if not here."""
    row = conn.execute(select(CallRow.record, CallRow.events).where(CallRow.call_id == call_id)).first()
    if row is None:
        return None
    record: dict[str, Any] = json.loads(row.record)
    record["events"] = json.loads(row.events)
    return record


def outcomes(conn: Connection) -> set[str]:
    """Every outcome a stored call has (the values an outcome filter can match)."""
    return {o for (o,) in conn.execute(select(CallRow.outcome).distinct()) if o is not None}


CSV_COLUMNS = ("call_id", "started_at", "ended_at", "duration", "caller", "called", "flow", "language", "queue",
               "agent", "outcome", "category", "answer_wait_s", "answered_in_time", "survey_score", "has_recording")


def csv_rows(conn: Connection, f: CallFilter, *, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
    """Every call matching `f`, oldest first, as CSV_COLUMNS tuples, read in keyset batches (a month
    of calls is never held in memory at once)."""
    cols = [COLUMNS[c] for c in CSV_COLUMNS]
    after: tuple[float, str] | None = None
    while True:
        query = select(*cols).where(*_conditions(f))
        if after is not None:
            query = query.where(or_(CallRow.started_at > after[0],
                                    and_(CallRow.started_at == after[0], CallRow.call_id > after[1])))
        rows = conn.execute(query.order_by(CallRow.started_at, CallRow.call_id).limit(batch)).all()
        yield from (tuple(r) for r in rows)
        if len(rows) < batch:
            return
        after = (rows[-1].started_at, rows[-1].call_id)
