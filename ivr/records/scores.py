"""QA scores in SQL (the dashboard's dashboard.score_store turns them into its Score model).

A score is never edited: superseding one sets its `superseded_by` and inserts the new one in the
same transaction, and the partial unique index uq_qa_scores_current lets a call have one current
score only, so two reviewers racing get one score and one `ScoreConflictError`.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from ivr.records.schema import ScoreRow

JSON_FIELDS = ("kpis", "survey")


class ScoreConflictError(Exception):
    """The call has a current score (supersede it), or the one to supersede is not current."""


def to_row(score: dict[str, Any]) -> dict[str, Any]:
    row = {c.name: score.get(c.name) for c in ScoreRow.__table__.columns}
    for name in JSON_FIELDS:
        row[name] = json.dumps(score.get(name), ensure_ascii=False, default=str)
    row["comment"], row["reason"] = row["comment"] or "", row["reason"] or ""
    return row


def from_row(row: Any) -> dict[str, Any]:
    out = {c.name: getattr(row, c.name) for c in ScoreRow.__table__.columns}
    for name in JSON_FIELDS:
        out[name] = json.loads(out[name])
    return out


def submit(conn: Connection, score: dict[str, Any]) -> None:
    """Insert `score` (a dict of ScoreRow's fields), superseding score["supersedes"] if given.
    ScoreConflictError when the call has another current score or the superseded one is not current."""
    call_id, old = score["call_id"], score.get("supersedes")
    if old:
        done = conn.execute(update(ScoreRow).where(ScoreRow.id == old, ScoreRow.call_id == call_id,
                                                   ScoreRow.superseded_by.is_(None))
                            .values(superseded_by=score["id"]))
        if done.rowcount != 1:
            raise ScoreConflictError(f"score {old} is not the current score of call {call_id}")
    else:
        by = current_for_calls(conn, [call_id]).get(call_id)
        if by is not None:
            raise ScoreConflictError(f"call {call_id} already has score {by['id']} by {by['reviewer']}; a score "
                                     "cannot be edited, only superseded with a reason")
    try:
        conn.execute(insert(ScoreRow).values(to_row(score)))
    except IntegrityError as exc:  # another reviewer's score landed between the check and the insert
        raise ScoreConflictError(f"call {call_id} was scored by someone else just now; reload") from exc


def insert_ignoring_existing(conn: Connection, scores: list[dict[str, Any]]) -> int:
    """Copies (ivr db migrate-redis): scores whose id is already here are left as they are."""
    have = {i for (i,) in conn.execute(select(ScoreRow.id).where(ScoreRow.id.in_([s["id"] for s in scores])))}
    new = [to_row(s) for s in scores if s["id"] not in have]
    if new:
        conn.execute(insert(ScoreRow), new)
    return len(new)


def get(conn: Connection, score_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(ScoreRow).where(ScoreRow.id == score_id)).first()
    return None if row is None else from_row(row)


def for_call(conn: Connection, call_id: str) -> list[dict[str, Any]]:
    """Every score of a call, oldest first."""
    rows = conn.execute(select(ScoreRow).where(ScoreRow.call_id == call_id).order_by(ScoreRow.at, ScoreRow.id))
    return [from_row(r) for r in rows]


def current_for_calls(conn: Connection, call_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The current score of each of `call_ids` that has one (one query for a review queue)."""
    if not call_ids:
        return {}
    rows = conn.execute(select(ScoreRow).where(ScoreRow.call_id.in_(call_ids), ScoreRow.superseded_by.is_(None)))
    return {r.call_id: from_row(r) for r in rows}


def current(conn: Connection, since: float | None = None, until: float | None = None) -> list[dict[str, Any]]:
    """Current scores submitted in [since, until], oldest first."""
    query = select(ScoreRow).where(ScoreRow.superseded_by.is_(None))
    if since is not None:
        query = query.where(ScoreRow.at >= since)
    if until is not None:
        query = query.where(ScoreRow.at <= until)
    return [from_row(r) for r in conn.execute(query.order_by(ScoreRow.at, ScoreRow.id))]
