"""Weekly QA sample: N calls per agent plus spot checks, reproducible from the stored seed, split
between supervisors; the review queue and the per-agent / per-week reports."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import select

from dashboard.sampling import Candidate, draw, normalize_week, week_bounds
from ivr import keys
from ivr.records import db
from ivr.records.schema import SampleRow
from ivr.settings import Settings
from tests.dashboard_support import dashboard_settings, login, write_call

pytestmark = pytest.mark.timeout(60)
TZ = "Asia/Shanghai"
WEEK = "2026-W09"  # Mon 2026-02-23 .. Sun 2026-03-01; the fake clock is in the week after
NOW = "2026-03-04T10:00:00+08:00"  # Wednesday of 2026-W10


def candidates() -> list[Candidate]:
    return [Candidate(f"c{a}{i}", f"10{a}") for a in range(4) for i in range(2 + 3 * a)]


def test_draw_takes_n_per_agent_plus_spot_checks_and_is_reproducible() -> None:
    pool = candidates()  # agent 100 has only 2 calls, the others 5, 8, 11
    items = draw(pool, seed=42, per_agent=3, spot_checks=4, reviewers=["sup", "sup2"])
    quota = Counter(i.agent for i in items if i.kind == "agent")
    assert quota == {"100": 2, "101": 3, "102": 3, "103": 3}
    assert sum(1 for i in items if i.kind == "spot") == 4
    assert len({i.call_id for i in items}) == len(items)  # no call twice
    assert Counter(i.reviewer for i in items) == {"sup": 8, "sup2": 7}
    assert draw(list(reversed(pool)), 42, 3, 4, ["sup2", "sup"]) == items  # order does not matter
    assert draw(pool, 43, 3, 4, ["sup", "sup2"]) != items


def test_week_bounds_are_local_mondays() -> None:
    start, end = week_bounds(WEEK, TZ)
    assert start.isoformat() == "2026-02-23T00:00:00+08:00" and (end - start).days == 7
    with pytest.raises(ValueError, match="ISO week like 2026-W10"):
        week_bounds("last week", TZ)
    assert normalize_week("2026-W010") == normalize_week("2026-W10") == "2026-W10"
    assert normalize_week("2026-W1") == "2026-W01"
    for bad in ("2025-W53", "2026-W00", "2026-W10x", "26-W10", "2026-w10"):
        with pytest.raises(ValueError, match="ISO week"):
            normalize_week(bad)


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    start, _ = week_bounds(WEEK, TZ)
    for a in range(3):
        for i in range(5):
            t = start.timestamp() + 86400 * i + 3600 * (9 + a)
            write_call(redis_url, f"w{a}-{i}", t, agent=f"20{a}", recording={"mixed": "x.wav"})
    write_call(redis_url, "no-agent", start.timestamp() + 100, recording={"mixed": "x.wav"})
    write_call(redis_url, "no-recording", start.timestamp() + 200, agent="200")
    before = datetime(2026, 2, 20, 12, tzinfo=ZoneInfo(TZ)).timestamp()
    write_call(redis_url, "week-before", before, agent="200", recording={"mixed": "x.wav"})
    this_week = datetime(2026, 3, 3, 9, tzinfo=ZoneInfo(TZ)).timestamp()  # 2026-W10, in progress
    for i in range(2):
        write_call(redis_url, f"now-{i}", this_week + i, agent="200", recording={"mixed": "x.wav"})
    return dashboard_settings(redis_url, tmp_path, fake_now=NOW, review_calls_per_agent=3, review_spot_checks=2)


def drawn_by_the_weekly_job(client: TestClient, week: str) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while (body := client.get(f"/api/samples/{week}").json())["drawn"] is False:  # drawn at start-up
        assert time.monotonic() < deadline, body
        time.sleep(0.05)
    return body


def test_review_queue_splits_the_sample_between_supervisors(client: TestClient) -> None:
    login(client, "sup")
    sample: dict[str, Any] = drawn_by_the_weekly_job(client, WEEK)
    assert sample["population"] == 15 and len(sample["items"]) == 3 * 3 + 2
    assert sample["check"] == {"population_unchanged": True, "same_draw": True}
    assert {i["call_id"][:2] for i in sample["items"]} == {"w0", "w1", "w2"}
    assert client.get(f"/api/samples/{WEEK}").json()["seed"] == sample["seed"]  # drawn once

    mine = {i["call_id"] for i in sample["items"] if i["reviewer"] == "sup"}
    page = client.get("/reviews", headers={"accept": "text/html"}).text  # defaults to last week
    assert f"week {WEEK}" in page and str(sample["seed"]) in page
    assert set(re.findall(r'href="/calls/([^"]+)"', page)) == mine
    client.cookies.clear()
    login(client, "sup2")
    theirs = set(re.findall(r'href="/calls/([^"]+)"', client.get("/reviews", headers={"accept": "text/html"}).text))
    assert theirs and not theirs & mine and theirs | mine == {i["call_id"] for i in sample["items"]}
    assert client.get("/api/samples/not-a-week").status_code == 400


def sample_keys(settings: Settings) -> list[str]:
    """The drawn weeks (records database), named as their keys were when samples lived in Redis."""
    engine = db.make_engine(db.database_url(settings))
    db.upgrade(engine)  # a request refused before any read leaves no schema yet
    with engine.connect() as conn:
        weeks = [w for (w,) in conn.execute(select(SampleRow.week))]
    engine.dispose()
    return sorted(keys.qa_sample(w) for w in weeks)


def test_reading_never_draws_a_sample(client: TestClient, redis_url: str, settings: Settings) -> None:
    login(client, "sup")
    drawn_by_the_weekly_job(client, WEEK)  # the last complete week, drawn by the job
    for week in ("2026-W10", "2026-W010", "2026-W08"):  # the current week; an older one nobody drew
        body = client.get(f"/api/samples/{week}").json()
        assert body["drawn"] is False and "items" not in body, body
        page = client.get("/reviews", params={"week": week}, headers={"accept": "text/html"}).text
        assert "not drawn yet" in page
    current = client.get("/api/samples/2026-W10").json()
    assert current["calls_so_far"] == 2 and current["week"] == "2026-W10"
    assert "draw-form" not in client.get("/reviews?week=2026-W10", headers={"accept": "text/html"}).text
    assert sample_keys(settings) == [keys.qa_sample(WEEK)]
    assert [(e["user"], e["target"]) for e in audit(redis_url) if e["action"] == "sample_draw"] == [
        ("system", WEEK)]


@pytest.mark.parametrize(("week", "named"), [
    ("2026-W11", "has not started yet"), ("2027-W01", "has not started yet"), ("2026-W1x", "ISO week"),
    ("2025-W53", "ISO week"), ("2026-W10;rm", "ISO week")])
def test_bad_or_future_weeks_are_refused_naming_the_parameter(client: TestClient, settings: Settings, week: str,
                                                              named: str) -> None:
    login(client, "sup")
    for resp in (client.get(f"/api/samples/{week}"), client.get("/reviews", params={"week": week})):
        assert resp.status_code == 400 and "parameter week" in resp.json()["detail"] and named in resp.text
    assert keys.qa_sample(week) not in sample_keys(settings)


def audit(redis_url: str) -> list[dict[str, Any]]:
    return [json.loads(e) for e in redis.Redis.from_url(redis_url).lrange(keys.AUDIT_LOG, 0, -1)]


def test_a_supervisor_draws_a_finished_week_explicitly(client: TestClient, redis_url: str,
                                                        settings: Settings) -> None:
    csrf = login(client, "sup")
    assert client.post("/api/samples/2026-W08/draw").status_code == 403  # CSRF
    early = client.post("/api/samples/2026-W10/draw", headers={"x-csrf-token": csrf})
    assert early.status_code == 409 and "not over" in early.json()["detail"]
    made = client.post("/api/samples/2026-W008/draw", headers={"x-csrf-token": csrf})
    assert made.status_code == 201 and made.json()["week"] == "2026-W08"
    assert made.json()["population"] == 1  # the one recorded call of that week
    again = client.post("/api/samples/2026-W08/draw", headers={"x-csrf-token": csrf})
    assert again.status_code == 409 and "never re-drawn" in again.json()["detail"]
    shown = client.get("/api/samples/2026-W8").json()
    assert shown["drawn"] is True and shown["seed"] == made.json()["seed"]
    assert keys.qa_sample("2026-W08") in sample_keys(settings) and keys.qa_sample("2026-W008") not in sample_keys(
        settings)
    draws = [(e["user"], e["role"], e["target"]) for e in audit(redis_url) if e["action"] == "sample_draw"
             and e["target"] == "2026-W08"]
    assert draws == [("sup", "supervisor", "2026-W08")]
    page = client.get("/reviews?week=2026-W07", headers={"accept": "text/html"}).text
    assert "draw-form" in page  # a finished week nobody drew: the button is offered
    form = client.post("/reviews/draw", data={"week": "2026-W07", "csrf_token": csrf}, follow_redirects=False)
    assert form.status_code == 303 and form.headers["location"] == "/reviews?week=2026-W07"
    assert keys.qa_sample("2026-W07") in sample_keys(settings)


def test_reports_per_agent_per_week_and_coverage(client: TestClient) -> None:
    csrf = login(client, "sup")
    drawn_by_the_weekly_job(client, WEEK)
    kpis = {"answering": 100, "accuracy": 50, "handling": 50, "satisfaction": 100}
    for call in ("w0-0", "w0-1", "w1-0"):
        resp = client.post(f"/api/calls/{call}/scores", json={"kpis": kpis}, headers={"x-csrf-token": csrf})
        assert resp.status_code == 201
    body = client.get("/api/reports").json()
    assert [(r["agent"], r["reviews"], r["total"]) for r in body["by_agent"]] == [("200", 2, 75.0), ("201", 1, 75.0)]
    assert body["by_week"] == [{"week": WEEK, "reviews": 3, "total": 75.0, "answering": 100.0, "accuracy": 50.0,
                                "handling": 50.0, "satisfaction": 100.0}]
    assert body["coverage_week"] == WEEK
    assert {c["agent"]: (c["reviewed"], c["met"]) for c in body["coverage"]} == {
        "200": (2, False), "201": (1, False), "202": (0, False)}
    # the calls are not in the records database yet: the KPI has the reviewed parts only, and says so
    kpi = {r["agent"]: r for r in body["kpi"]}
    assert kpi["200"]["partial"] == ["answering"] and kpi["200"]["total"] == 68.8 and kpi["200"]["reviews"] == 2
    page = client.get("/reports", headers={"accept": "text/html"}).text
    assert "Per agent" in page and 'id="kpi"' in page and 'id="by-category"' in page
