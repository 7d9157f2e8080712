"""QA scores in SQL: superseded, never edited; one current score per call even when two reviewers race."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import Engine

from ivr.records import scores


def _score(sid: str, reviewer: str = "sup", supersedes: str | None = None, at: float = 100.0) -> dict[str, Any]:
    return {"id": sid, "call_id": "c1", "agent": "1001", "week": "2026-W10", "reviewer": reviewer, "at": at,
            "kpis": {"answering": 80, "accuracy": 90, "handling": 70, "satisfaction": 60}, "total": 73.0,
            "comment": "", "survey": {"score": 4}, "supersedes": supersedes, "reason": "typo" if supersedes else "",
            "superseded_by": None}


@pytest.mark.timeout(60)
def test_supersede_chain_and_conflicts_name_the_score(engine: Engine) -> None:
    with engine.begin() as conn:
        scores.submit(conn, _score("s1"))
    with pytest.raises(scores.ScoreConflictError, match="already has score s1 by sup"), engine.begin() as conn:
        scores.submit(conn, _score("s2", "sup2"))
    with engine.begin() as conn:
        scores.submit(conn, _score("s3", supersedes="s1", at=200.0))
    with pytest.raises(scores.ScoreConflictError, match="s1 is not the current"), engine.begin() as conn:
        scores.submit(conn, _score("s4", supersedes="s1", at=300.0))
    with engine.connect() as conn:
        chain = scores.for_call(conn, "c1")
        assert [(s["id"], s["superseded_by"]) for s in chain] == [("s1", "s3"), ("s3", None)]
        assert chain[0]["kpis"]["handling"] == 70 and chain[1]["survey"] == {"score": 4}
        assert [s["id"] for s in scores.current(conn, since=150.0)] == ["s3"]
        assert scores.current_for_calls(conn, ["c1", "c2"])["c1"]["id"] == "s3"
        assert scores.get(conn, "s4") is None


@pytest.mark.timeout(60)
def test_two_reviewers_racing_make_one_current_score(engine: Engine) -> None:
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def submit(i: int) -> None:
        barrier.wait()
        try:
            with engine.begin() as conn:
                scores.submit(conn, _score(f"r{i}", f"sup{i}"))
            outcomes.append("ok")
        except scores.ScoreConflictError:
            outcomes.append("conflict")
        except Exception as exc:  # SQLite: a writer that waited past busy_timeout
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcomes.count("ok") == 1 and outcomes.count("conflict") == 7, outcomes
    with engine.connect() as conn:
        assert len(scores.for_call(conn, "c1")) == 1


@pytest.mark.timeout(30)
def test_copy_leaves_existing_scores_alone(engine: Engine) -> None:
    with engine.begin() as conn:
        assert scores.insert_ignoring_existing(conn, [_score("m1")]) == 1
        assert scores.insert_ignoring_existing(conn, [_score("m1"), {**_score("m2"), "superseded_by": "m9"}]) == 1
    with engine.connect() as conn:
        assert [s["id"] for s in scores.for_call(conn, "c1")] == ["m1", "m2"]
