"""Retention in the records database at its exact boundaries (SQLite and PostgreSQL): what is at the
cutoff goes, one second younger stays; a chain of scores goes whole, after its newest score."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from ivr.records import audit, callback_history, samples, scores
from ivr.records.calls import CallFilter, count_calls, to_row, upsert_calls
from ivr.records.retention import purge_records
from ivr.records.schema import ScoreRow

NOW = datetime(2027, 3, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
DAY = 86_400


def _score(sid: str, call_id: str, at: float, supersedes: str | None = None) -> dict[str, object]:
    return {"id": sid, "call_id": call_id, "agent": "1001", "week": "2026-W10", "reviewer": "sup", "at": at,
            "kpis": {}, "total": 1.0, "comment": "", "survey": None, "supersedes": supersedes,
            "reason": "r" if supersedes else "", "superseded_by": None}


@pytest.mark.timeout(60)
def test_calls_audit_and_score_chains_go_at_their_cutoffs(engine: Engine) -> None:
    t = NOW.timestamp()
    call_cut, qa_cut, audit_cut = t - 120 * DAY, t - 365 * DAY, t - 400 * DAY
    with engine.begin() as conn:
        upsert_calls(conn, [to_row({"call_id": f"c{i}", "start": s}, []) for i, s in
                            enumerate((call_cut - 1, call_cut, call_cut + 1, t))])
        for i, at in enumerate((audit_cut - 5, audit_cut, audit_cut + 1)):
            entry = {"at": datetime.fromtimestamp(at, NOW.tzinfo).isoformat(), "user": "u", "role": "admin",
                     "action": "login", "target": "", "detail": {}, "id": f"a{i}"}
            audit.insert_entries(conn, [audit.to_row(json.loads(json.dumps(entry)), i)])
        scores.submit(conn, _score("gone", "old", qa_cut - 10))
        scores.submit(conn, _score("kept1", "chain", qa_cut - 10))
        scores.submit(conn, _score("kept2", "chain", qa_cut + 1, supersedes="kept1"))
        scores.submit(conn, _score("edge", "edge", qa_cut))
        for week, end in (("2026-W08", qa_cut - 1), ("2026-W09", qa_cut), ("2026-W10", qa_cut + 1)):
            samples.insert_once(conn, week, end, 0.0, "{}")
        assert not samples.insert_once(conn, "2026-W10", qa_cut + 1, 0.0, '{"again": 1}')  # drawn once
        callback_history.upsert(conn, [callback_history.to_row({"id": f"cb{i}", "status": "done"}, [],
                                                               finished_at=at, moved_at=t)
                                       for i, at in enumerate((call_cut - 1, call_cut, call_cut + 1))])
    kw = {"call_days": 120, "audit_days": 400, "qa_days": 365}
    want = {"calls": 2, "qa_scores": 2, "audit": 2, "qa_samples": 2, "callbacks": 2}
    assert purge_records(engine, NOW, dry_run=True, **kw) == want
    assert purge_records(engine, NOW, **kw) == want
    with engine.connect() as conn:
        assert count_calls(conn, CallFilter()) == 2
        assert [e["id"] for e in audit.recent(conn, 10)] == ["a2"]
        assert sorted(r for (r,) in conn.execute(select(ScoreRow.id))) == ["kept1", "kept2"]
    later = NOW + timedelta(seconds=1)
    assert purge_records(engine, later, **kw) == {"calls": 1, "qa_scores": 2, "audit": 1, "qa_samples": 1,
                                                  "callbacks": 1}
    with engine.connect() as conn:
        assert samples.get(conn, "2026-W10") is None
