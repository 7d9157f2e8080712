"""Calls in SQL: the upsert leaves one row per call, and a filtered list returns every match, page by page."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from ivr.records.calls import CallFilter, Cursor, count_calls, get_call, outcomes, page_calls, to_row, upsert_calls


def _record(i: int) -> dict[str, object]:
    return {"call_id": f"c{i:05d}", "start": 1_000_000.0 + (i // 3) * 60,  # three calls share each start
            "end": 1_000_030.0 + i * 60, "duration": 30.0, "caller": "13800138000", "flow": "hotline",
            "queue": ("support", "complaints")[i % 2], "agent": f"10{i % 4:02d}",
            "outcome": ("answered", "voicemail", "caller_hangup")[i % 3], "category": "repair",
            "answer_timing": {"answered": True, "wait_s": 12.5, "within_rings": i % 5 != 0},
            "survey": {"score": i % 5 + 1}}


def _all_pages(engine: Engine, f: CallFilter, limit: int) -> list[str]:
    seen: list[str] = []
    after: Cursor | None = None
    with engine.connect() as conn:
        while True:
            rows, after = page_calls(conn, f, limit, after)
            seen += [r["call_id"] for r in rows]
            if after is None:
                return seen
            after = Cursor.decode(after.encode())  # as a client hands it back


@pytest.mark.timeout(60)
def test_upsert_is_idempotent_and_keeps_the_latest_version(engine: Engine) -> None:
    rows = [to_row(_record(i), [{"t": 1, "kind": "node"}]) for i in range(50)]
    with engine.begin() as conn:
        upsert_calls(conn, rows)
    changed = {**_record(7), "outcome": "answered", "agent": "2001"}
    with engine.begin() as conn:
        upsert_calls(conn, rows)  # a retry
        upsert_calls(conn, [to_row(changed, [])])
    with engine.connect() as conn:
        assert count_calls(conn, CallFilter()) == 50
        one = get_call(conn, "c00007")
        assert one is not None and one["agent"] == "2001" and one["events"] == []
        assert get_call(conn, "c00008")["events"] == [{"t": 1, "kind": "node"}]  # type: ignore[index]
        assert outcomes(conn) == {"answered", "voicemail", "caller_hangup"}


@pytest.mark.timeout(120)
def test_filtered_pages_return_every_match_newest_first(engine: Engine) -> None:
    records = [_record(i) for i in range(1200)]
    with engine.begin() as conn:
        upsert_calls(conn, [to_row(r, []) for r in records])
    f = CallFilter(agent="1001", queue="complaints", outcome="voicemail", since=1_000_000.0 + 60 * 50)
    want = [r for r in records if r["agent"] == "1001" and r["queue"] == "complaints"
            and r["outcome"] == "voicemail" and float(r["start"]) >= f.since]  # type: ignore[arg-type]
    want.sort(key=lambda r: (r["start"], r["call_id"]), reverse=True)  # type: ignore[arg-type, return-value]
    assert len(want) > 30
    assert _all_pages(engine, f, 7) == [r["call_id"] for r in want]
    everything = _all_pages(engine, CallFilter(), 100)  # ties on start are split by call id, none lost
    assert len(everything) == len(set(everything)) == 1200
    with engine.connect() as conn:
        assert count_calls(conn, f) == len(want)
        assert count_calls(conn, CallFilter(until=1_000_000.0)) == 3


@pytest.mark.timeout(10)
def test_a_foreign_cursor_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'nonsense'"):
        Cursor.decode("nonsense")


@pytest.mark.timeout(10)
def test_row_columns_come_from_the_record() -> None:
    row = to_row({**_record(5), "agent": 1005, "caller": "x" * 100}, [])
    assert row["agent"] == "1005" and len(row["caller"]) == 64  # whole value kept in `record`
    assert row["answer_wait_s"] == 12.5 and row["answered_in_time"] is False and row["survey_score"] == 1
    assert row["category"] == "repair" and row["started_at"] == 1_000_060.0
