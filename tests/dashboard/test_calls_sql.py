"""/api/calls and /calls read the records database (SQLite and a real PostgreSQL) merged with the calls
still only in Redis: every filter returns every match, paged, and an unknown outcome is refused by name."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from redis.asyncio import Redis

from dashboard.app import create_app
from dashboard.records_db import RecordsDb
from dashboard.sampling import calls_so_far, candidates_of_week, ensure_sample, verify
from harness.local_postgres import LocalPostgres
from ivr.records import db
from ivr.records.calls import to_row, upsert_calls
from ivr.settings import Settings
from tests.dashboard_support import add_users, dashboard_settings, login, write_call
from tests.support.postgres import fresh_database, postgres_server

__all__ = ["postgres_server"]
NOW = time.time()


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, redis_url: str, tmp_path: Path) -> Settings:
    url = ""
    if request.param == "postgresql":
        server: LocalPostgres = request.getfixturevalue("postgres_server")
        url = fresh_database(server)
    return dashboard_settings(redis_url, tmp_path, database_url=url)


@pytest.fixture
def client(settings: Settings, redis_url: str) -> Iterator[TestClient]:
    add_users(redis_url)
    with TestClient(create_app(settings)) as c:
        yield c


def _stored(settings: Settings, n: int) -> list[dict[str, Any]]:
    """n finished calls in the records database, as the mover leaves them."""
    records = [{"call_id": f"s{i:05d}", "start": NOW - 3600 - i * 30, "end": NOW - 3500 - i * 30,
                "caller": "13812345678", "queue": ("support", "complaints")[i % 2], "agent": f"10{i % 3:02d}",
                "outcome": ("answered", "voicemail")[i % 2], "category": "repair"} for i in range(n)]
    engine = db.make_engine(db.database_url(settings))
    db.upgrade(engine)
    with engine.begin() as conn:
        upsert_calls(conn, [to_row(r, [{"t": r["start"], "kind": "node", "node": "menu"}]) for r in records])
    engine.dispose()
    return records


def _pages(client: TestClient, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    url: str | None = "/api/calls"
    query: dict[str, Any] | None = params
    while url is not None:
        resp = client.get(url, params=query)
        assert resp.status_code == 200, resp.text
        pages.append([c["call_id"] for c in resp.json()])
        link = resp.headers.get("link")
        url, query = (link.split(">", 1)[0].lstrip("<"), None) if link else (None, None)
        assert (link is None) == ("x-next-cursor" not in resp.headers)
    return pages


@pytest.mark.timeout(120)
def test_filters_return_every_match_page_by_page(client: TestClient, settings: Settings, redis_url: str) -> None:
    records = _stored(settings, 2400)
    write_call(redis_url, "live-1", NOW - 5, queue="complaints", agent="1001")  # in progress, only in Redis
    write_call(redis_url, "s00001", NOW - 3600 - 30, queue="complaints", agent="1001", outcome="voicemail",
               category="repair", hangup_by="agent")  # in both: changed since its move
    login(client, "sup")
    pages = _pages(client, agent="1001", queue="complaints", limit=150)
    got = [c for p in pages for c in p]
    want = ["live-1"] + [x["call_id"] for x in records if x["agent"] == "1001" and x["queue"] == "complaints"]
    assert got == want and len(got) == len(set(got)) and len(pages) == -(-len(want) // 150)
    filtered = _pages(client, outcome="voicemail", category="repair", since=NOW - 3600 - 30 * 100, limit=1000)
    assert [c for p in filtered for c in p] == [x["call_id"] for x in records[:101] if x["outcome"] == "voicemail"]
    first = client.get("/api/calls", params={"limit": 5}).json()
    assert [c["call_id"] for c in first] == ["live-1", "s00000", "s00001", "s00002", "s00003"]
    assert first[2]["hangup_by"] == "agent" and first[1]["caller"] == "138****5678"


@pytest.mark.timeout(60)
def test_unknown_outcome_and_foreign_cursor_are_422_naming_them(client: TestClient, settings: Settings) -> None:
    _stored(settings, 4)
    login(client, "sup")
    bad = client.get("/api/calls", params={"outcome": "answerd"})
    assert bad.status_code == 422 and "'answerd'" in bad.json()["detail"] and "answered" in bad.json()["detail"]
    assert client.get("/api/calls", params={"outcome": "answered"}).status_code == 200
    cur = client.get("/api/calls", params={"cursor": "zzz"})
    assert cur.status_code == 422 and "'zzz'" in cur.json()["detail"]


@pytest.mark.timeout(60)
def test_moved_call_is_read_from_sql_and_the_page_links_older_calls(client: TestClient, settings: Settings) -> None:
    _stored(settings, 310)
    login(client, "sup")
    one = client.get("/api/calls/s00007").json()
    assert one["agent"] == "1001" and one["events"][0]["node"] == "menu" and one["caller"] == "138****5678"
    page = client.get("/calls", params={"days": 30}, headers={"accept": "text/html"})
    assert page.status_code == 200 and page.text.count('href="/calls/s0') == 300 and 'id="older"' in page.text
    older = page.text.split('id="older" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    rest = client.get(older, headers={"accept": "text/html"}).text
    assert rest.count('href="/calls/s0') == 10 and 'id="older"' not in rest


@pytest.mark.timeout(60)
async def test_week_pool_comes_from_sql_and_the_calls_not_moved_yet(settings: Settings, redis_url: str) -> None:
    week = "2026-W10"  # Monday 2026-03-02 00:00 Asia/Shanghai
    monday = datetime(2026, 3, 2, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    rec = {"dir": "/r", "mixed": "m.wav"}
    rows = [{"call_id": f"w{i}", "start": monday + i * 3600, "agent": f"10{i % 2}", "outcome": "answered",
             **({"recording": rec} if i % 3 else {})} for i in range(-2, 30)]  # two in the week before
    engine = db.make_engine(db.database_url(settings))
    db.upgrade(engine)
    with engine.begin() as conn:
        upsert_calls(conn, [to_row(r, []) for r in rows])
    engine.dispose()
    write_call(redis_url, "live", monday + 100_000, agent="1009", recording=rec)  # not moved yet
    records_db = RecordsDb(settings)
    r = Redis.from_url(redis_url)
    try:
        pool = await candidates_of_week(r, records_db, week, "Asia/Shanghai")
    finally:
        await r.aclose()
        records_db.close()
    want = {f"w{i}" for i in range(30) if i % 3} | {"live"}
    assert {c.call_id for c in pool} == want and len(pool) == len(want)


@pytest.mark.timeout(60)
async def test_a_drawn_weeks_check_is_redone_only_when_its_pool_changed(settings: Settings, redis_url: str) -> None:
    week, tz = "2026-W10", "Asia/Shanghai"
    monday = datetime(2026, 3, 2, tzinfo=ZoneInfo(tz)).timestamp()
    rec = {"dir": "/r", "mixed": "m.wav"}

    def store(rows: list[dict[str, Any]], moved_at: float) -> None:
        engine = db.make_engine(db.database_url(settings))
        db.upgrade(engine)
        with engine.begin() as conn:
            upsert_calls(conn, [to_row(r, [], moved_at=moved_at) for r in rows])
        engine.dispose()

    calls = [{"call_id": f"w{i}", "start": monday + i * 3600, "agent": f"10{i % 3}", "outcome": "answered",
              "recording": rec} for i in range(20)]
    store(calls, 1000.0)
    records_db, r = RecordsDb(settings), Redis.from_url(redis_url)
    try:
        sample, drawn = await ensure_sample(r, records_db, week, tz, 2, 2, ["sup"], now=monday + 7 * 86400)
        assert drawn and sample.population == 20 and len(sample.items) == 8
        ok = {"population_unchanged": True, "same_draw": True}
        assert await verify(r, records_db, sample, tz) == ok
        assert await verify(r, records_db, sample, tz) == ok  # answered from the memo
        assert records_db.memo[f"sample-check:{week}:{sample.seed}"][1] == ok
        store([{**calls[0], "agent": "1099"}], 2000.0)  # a call of the week moved again with another agent
        assert (await verify(r, records_db, sample, tz))["population_unchanged"] is False
        store([{**calls[0]}], 3000.0)
        assert await verify(r, records_db, sample, tz) == ok
        write_call(redis_url, "live", monday + 100_000, agent="1009", recording=rec)  # not moved yet
        assert (await verify(r, records_db, sample, tz))["population_unchanged"] is False
        assert await calls_so_far(r, records_db, week, tz) == 21
        write_call(redis_url, "w3", monday + 3 * 3600, agent="100", recording=rec)  # in both: counted once
        assert await calls_so_far(r, records_db, week, tz) == 21
    finally:
        await r.aclose()
        records_db.close()


@pytest.mark.timeout(120)
def test_csv_export_of_a_range_has_every_call_masked_for_supervisors_and_is_audited(
        client: TestClient, settings: Settings) -> None:
    records = _stored(settings, 12_000)  # more than one batch of the export's reads
    since, until = NOW - 3600 - 30 * 11_000, NOW
    login(client, "sup")
    resp = client.get("/api/calls.csv", params={"since": since, "until": until, "agent": "1002"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(resp.text)))
    assert lines[0][:3] == ["call_id", "started_at", "ended_at"]
    want = sorted((x for x in records if x["agent"] == "1002" and x["start"] >= since), key=lambda x: x["start"])
    assert [row[0] for row in lines[1:]] == [x["call_id"] for x in want]
    assert {row[4] for row in lines[1:]} == {"138****5678"}
    client.cookies.clear()
    login(client, "boss")
    entries = client.get("/api/audit", params={"action": "download"}).json()
    assert entries[0]["target"] == "calls.csv" and entries[0]["user"] == "sup"
    assert client.get("/api/calls.csv", params={"since": 0, "until": NOW, "outcome": "nope"}).status_code == 422
