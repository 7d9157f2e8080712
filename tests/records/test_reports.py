"""The KPI report (20/20/30/30: measured answering, reviewed accuracy and handling, surveyed satisfaction)
and the calls per category, computed in SQL on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from ivr.records import scores
from ivr.records.calls import to_row, upsert_calls
from ivr.records.reports import by_category, kpi_by_agent


def _call(i: int, agent: str, in_time: bool, survey: int | None, category: str, outcome: str) -> dict[str, Any]:
    rec: dict[str, Any] = {"call_id": f"c{i}", "start": 1000.0 + i, "duration": 100.0 + i, "agent": agent,
                           "category": category, "outcome": outcome, "answered_within_3_rings": in_time}
    if survey is not None:
        rec["survey"] = {"score": survey, "scale": 5}
    return rec


@pytest.mark.timeout(60)
def test_kpi_weights_measured_scored_and_surveyed_parts(engine: Engine) -> None:
    calls = [_call(0, "1001", True, 5, "repair", "answered"), _call(1, "1001", True, 3, "repair", "answered"),
             _call(2, "1001", False, None, "complaint", "answered"),
             _call(3, "1001", True, None, "enquiry", "voicemail"),
             _call(4, "1002", False, None, "enquiry", "answered"), _call(5, "1003", True, 1, "enquiry", "answered"),
             _call(99, "1001", True, 1, "repair", "answered")]
    calls[-1]["start"] = 99_999.0  # outside the period
    with engine.begin() as conn:
        upsert_calls(conn, [to_row(c, []) for c in calls])
        for sid, agent, acc, hand, sat in (("s1", "1001", 80, 60, 10), ("s2", "1001", 100, 80, 10),
                                           ("s3", "1002", 50, 50, 70)):
            scores.submit(conn, {"id": sid, "call_id": sid, "agent": agent, "week": "2026-W10", "reviewer": "sup",
                                 "at": 1500.0, "kpis": {"answering": 0, "accuracy": acc, "handling": hand,
                                                        "satisfaction": sat},
                                 "total": 0.0, "comment": "", "survey": None, "supersedes": None, "reason": "",
                                 "superseded_by": None})
    with engine.connect() as conn:
        rows = {r["agent"]: r for r in kpi_by_agent(conn, 0.0, 2000.0)}
        cats = {c["category"]: c for c in by_category(conn, 0.0, 2000.0)}
    a = rows["1001"]
    # answering 3 of 4 in time = 75; accuracy 90; handling 70; satisfaction: surveys 5 and 3 of 5 -> 100, 50 -> 75
    assert (a["answering"], a["accuracy"], a["handling"], a["satisfaction"]) == (75.0, 90.0, 70.0, 75.0)
    assert a["total"] == round((75 * 20 + 90 * 20 + 70 * 30 + 75 * 30) / 100, 1) and a["partial"] == []
    assert a["calls"] == 4 and a["surveys"] == 2 and a["reviews"] == 2
    b = rows["1002"]  # no survey: the reviewers' satisfaction stands in
    want_b = round((0 + 50 * 20 + 50 * 30 + 70 * 30) / 100, 1)
    assert (b["answering"], b["satisfaction"], b["total"]) == (0.0, 70.0, want_b)
    c = rows["1003"]  # no review: re-weighted over answering and satisfaction, and says so
    assert c["partial"] == ["accuracy", "handling"] and c["total"] == round((100 * 20 + 0 * 30) / 50, 1)
    assert cats["enquiry"]["calls"] == 3 and cats["enquiry"]["outcomes"] == {"voicemail": 1, "answered": 2}
    assert cats["repair"]["calls"] == 2 and cats["repair"]["mean_duration_s"] == 100.5


@pytest.mark.timeout(60)
def test_calls_not_moved_yet_are_counted_once_in_their_redis_version(engine: Engine) -> None:
    old = _call(0, "1001", False, None, "repair", "answered")  # in SQL: not in time, no survey
    with engine.begin() as conn:
        upsert_calls(conn, [to_row(c, []) for c in (old, _call(1, "1001", True, None, "repair", "answered"))])
    newer = {**old, "answered_within_3_rings": True, "survey": {"score": 5, "scale": 5}, "duration": 300.0}
    only_redis = _call(2, "1002", True, 1, "enquiry", "voicemail")
    outside = {**_call(3, "1002", True, 1, "enquiry", "answered"), "start": 99_999.0}
    unmoved = [to_row(c, []) for c in (newer, only_redis, outside)]
    with engine.connect() as conn:
        rows = {r["agent"]: r for r in kpi_by_agent(conn, 0.0, 2000.0, unmoved)}
        cats = {c["category"]: c for c in by_category(conn, 0.0, 2000.0, unmoved)}
        without = {r["agent"]: r for r in kpi_by_agent(conn, 0.0, 2000.0)}
    # c0 counts once, as its Redis version: both of 1001's calls in time, its survey 100
    assert (rows["1001"]["calls"], rows["1001"]["answering"], rows["1001"]["satisfaction"]) == (2, 100.0, 100.0)
    assert (rows["1002"]["calls"], rows["1002"]["answering"], rows["1002"]["surveys"]) == (1, 100.0, 1)
    assert set(without) == {"1001"} and without["1001"]["answering"] == 50.0
    assert cats["repair"] == {"category": "repair", "calls": 2, "outcomes": {"answered": 2},
                              "mean_duration_s": round((300.0 + 101.0) / 2, 1)}
    assert cats["enquiry"]["calls"] == 1 and cats["enquiry"]["outcomes"] == {"voicemail": 1}
