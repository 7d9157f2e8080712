"""Weekly QA sample: N calls per agent plus spot checks, reproducible from the stored seed, split
between supervisors; the review queue and the per-agent / per-week reports."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from dashboard.app import create_app
from dashboard.sampling import Candidate, draw, week_bounds
from tests.browser.dashboard_support import add_users, dashboard_settings, login, write_call

pytestmark = pytest.mark.timeout(60)
TZ = "Asia/Shanghai"
WEEK = "2026-W09"  # Mon 2026-02-23 .. Sun 2026-03-01; the fake clock is in the week after
NOW = "2026-03-04T10:00:00+08:00"


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


@pytest.fixture
def client(redis_url: str, tmp_path: Path) -> Iterator[TestClient]:
    add_users(redis_url)
    start, _ = week_bounds(WEEK, TZ)
    for a in range(3):
        for i in range(5):
            t = start.timestamp() + 86400 * i + 3600 * (9 + a)
            write_call(redis_url, f"w{a}-{i}", t, agent=f"20{a}", recording={"mixed": "x.wav"})
    write_call(redis_url, "no-agent", start.timestamp() + 100, recording={"mixed": "x.wav"})
    write_call(redis_url, "no-recording", start.timestamp() + 200, agent="200")
    before = datetime(2026, 2, 20, 12, tzinfo=ZoneInfo(TZ)).timestamp()
    write_call(redis_url, "week-before", before, agent="200", recording={"mixed": "x.wav"})
    with TestClient(create_app(dashboard_settings(redis_url, tmp_path, fake_now=NOW, review_calls_per_agent=3,
                                                  review_spot_checks=2))) as c:
        yield c


def test_review_queue_splits_the_sample_between_supervisors(client: TestClient) -> None:
    login(client, "sup")
    sample = client.get(f"/api/samples/{WEEK}").json()
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


def test_reports_per_agent_per_week_and_coverage(client: TestClient) -> None:
    csrf = login(client, "sup")
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
    assert "Per agent" in client.get("/reports", headers={"accept": "text/html"}).text
