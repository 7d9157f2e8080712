"""JSON API: /api/queues, /api/calls, /api/calls/{id}, /api/audit, OpenAPI; roles and masking."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from fastapi.testclient import TestClient
from redis.asyncio import Redis

from dashboard.app import create_app
from dashboard.call_list import pending_records
from ivr import keys
from ivr.settings import Settings
from ivr.state.callrecord import CallStore
from tests.dashboard_support import add_users, dashboard_settings, login, with_shipped_queues
from tests.support.components import RedisServer

pytestmark = pytest.mark.timeout(60)


def write_call(r: redis.Redis, call_id: str, start: float, **fields: Any) -> None:
    record = {"call_id": call_id, "start": start, "caller": "13812345678", "called": "4008001234", **fields}
    r.hset(keys.call(call_id), mapping={k: json.dumps(v) for k, v in record.items()})
    r.rpush(keys.call_events(call_id), json.dumps({"t": start, "kind": "node", "node": "welcome"}))
    r.zadd(keys.CALLS_INDEX, {call_id: start})
    r.zadd(keys.RECORDS_PENDING, {call_id: start})  # written, not yet in the records database


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    return with_shipped_queues(dashboard_settings(redis_url, tmp_path))


def test_api_queues_reports_live_state(client: TestClient, redis_url: str) -> None:
    login(client, "sup")
    r = redis.Redis.from_url(redis_url)
    now = time.time()
    r.hset(keys.queue_callers("support"), mapping={
        "a": json.dumps({"caller": "1", "since": now - 30}), "b": json.dumps({"caller": "2", "since": now - 5})})
    r.hset(keys.queue_agents("support"), mapping={
        "1001": json.dumps({"state": "paused"}), "1002": json.dumps({"state": "ringing"})})
    r.zadd(keys.callback_queue("support"), {"cb1": now + 60})
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    r.hset(keys.queue_day("support", day), mapping={
        "offered": 4, "answered": 3, "answered_in_time": 2, "abandoned": 1, "overflow:max-wait": 2,
        "overflow_reason:max_wait": 2, "overflow_reason:callers_waiting": 1})
    time.sleep(0.15)  # /api/queues may serve a snapshot up to 0.1 s old (shared by concurrent requests)
    body = client.get("/api/queues").json()
    assert [q["name"] for q in body["queues"]] == ["support", "complaints"]
    support = body["queues"][0]
    assert support["waiting"] == 2 and 29 <= support["longest_wait_s"] <= 40
    assert support["agents"] == {"available": 0, "ringing": 1, "on_call": 0, "paused": 1}
    assert support["callbacks_pending"] == 1 and support["service_level_pct"] == 50.0
    assert support["abandon_pct"] == 25.0 and support["overflow"] == {"max_wait": 2, "callers_waiting": 1}
    assert body["incident"] is None and body["errors"] == []


def test_api_queues_names_a_broken_queues_file(client: TestClient, redis_url: str, tmp_path: Path) -> None:
    login(client, "sup")
    (tmp_path / "flows" / "queues.yaml").write_text("queues:\n  support:\n    strategy: sideways\n")
    time.sleep(0.15)
    errors = client.get("/api/queues").json()["errors"]
    assert errors and "queues.yaml" in errors[0] and "line 3" in errors[0]


def test_api_calls_masks_numbers_for_supervisors_not_admins(client: TestClient, redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    now = time.time()
    write_call(r, "c-old", now - 100, queue="support", agent="1001", outcome="answered")
    write_call(r, "c-new", now - 10, queue="complaints", agent="1002", outcome="abandoned")
    login(client, "sup")
    rows = client.get("/api/calls").json()
    assert [c["call_id"] for c in rows] == ["c-new", "c-old"]
    assert rows[0]["caller"] == "138****5678"
    assert [c["call_id"] for c in client.get("/api/calls", params={"queue": "support"}).json()] == ["c-old"]
    assert [c["call_id"] for c in client.get("/api/calls", params={"since": now - 50}).json()] == ["c-new"]
    one = client.get("/api/calls/c-old").json()
    assert one["caller"] == "138****5678" and one["events"][0]["node"] == "welcome"

    client.cookies.clear()
    login(client, "boss")
    assert client.get("/api/calls/c-old").json()["caller"] == "13812345678"


def test_api_call_errors_name_the_problem(client: TestClient) -> None:
    login(client, "sup")
    missing = client.get("/api/calls/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    bad = client.get("/api/calls/..%2Fetc")
    assert bad.status_code in (400, 404)
    assert client.get("/api/calls", params={"limit": 0}).status_code == 422


def test_audit_log_is_for_admins(client: TestClient) -> None:
    login(client, "sup")
    assert client.get("/api/audit").status_code == 403
    client.cookies.clear()
    login(client, "boss")
    entries = client.get("/api/audit").json()
    # The dashboard's hourly sample draw may audit a 'sample_draw' meanwhile: look at the logins.
    logins = [(e["user"], e["action"]) for e in entries if e["action"] == "login"]
    assert logins[:2] == [("boss", "login"), ("sup", "login")]
    page = client.get("/audit", headers={"accept": "text/html"})
    assert page.status_code == 200 and "login" in page.text


def test_openapi_lists_the_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/queues", "/api/calls", "/api/calls/{call_id}"} <= set(paths)
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()
    js = re.search(r'src="([^"]+swagger-ui-bundle\.js)"', docs.text)
    assert js and client.get(js.group(1)).status_code == 200  # served locally


def test_prometheus_metrics_report_queues(client: TestClient, redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    r.hset(keys.queue_callers("support"), "a", json.dumps({"caller": "1", "since": time.time() - 12}))
    r.hset(keys.queue_agents("support"), "1001", json.dumps({"state": "on_call"}))
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    r.hset(keys.queue_day("support", day), mapping={"offered": 4, "answered_in_time": 3, "abandoned": 1})
    text = client.get("/metrics").text  # scraped without a login: aggregates only
    assert 'ivr_queue_callers_waiting{queue="support"} 1.0' in text
    assert 'ivr_queue_agents{queue="support",state="on_call"} 1.0' in text
    assert 'ivr_queue_service_level_ratio{queue="support"} 0.75' in text
    assert 'ivr_queue_abandon_ratio{queue="support"} 0.25' in text
    assert 'ivr_queue_callers_waiting{queue="complaints"} 0.0' in text
    assert "ivr_incident_statement_on 0.0" in text and "13812345678" not in text


def test_prometheus_metrics_count_background_task_deaths(client: TestClient, redis_url: str) -> None:
    redis.Redis.from_url(redis_url).hincrby(keys.TASK_DEATHS, "ami-listener", 2)  # as ivr serve records it
    text = client.get("/metrics").text
    assert "# TYPE ivr_background_task_deaths_total counter" in text
    assert 'ivr_background_task_deaths_total{task="ami-listener"} 2.0' in text


def test_the_dashboards_background_tasks_are_supervised_and_their_deaths_counted(client: TestClient) -> None:
    tasks = client.app.state.services.tasks  # type: ignore[attr-defined]
    assert tasks.names == ["audit-mover", "liveqa-hub", "trend-sampler", "wallboard-hub", "weekly-qa-draw"]

    async def doomed() -> None:
        raise RuntimeError("a bug")

    assert client.portal is not None
    client.portal.call(lambda: tasks.spawn("doomed", doomed, restart=False))
    for _ in range(50):
        if 'ivr_background_task_deaths_total{task="doomed"} 1.0' in client.get("/metrics").text:
            break
        time.sleep(0.05)
    assert 'ivr_background_task_deaths_total{task="doomed"} 1.0' in client.get("/metrics").text


async def test_pending_records_are_read_in_one_round_trip_as_callstore_reads_them(redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    now = time.time()
    for i in range(30):
        write_call(r, f"p{i}", now - i * 10, queue="support", note="plain", qa={"flags": [{"kind": "x", "t": 1}]})
    r.hset(keys.call("p3"), "odd", "not json")
    r.zadd(keys.RECORDS_PENDING, {"expired-hash": now - 5})
    ar = Redis.from_url(redis_url, decode_responses=True)
    try:
        got = {rec["call_id"]: rec for rec in await pending_records(ar)}
        assert sorted(got) == sorted(f"p{i}" for i in range(30))  # the expired one is skipped
        for call_id, rec in got.items():
            want = await CallStore(ar).get(call_id)
            assert want is not None
            want.pop("events")
            assert rec == want
        assert got["p3"]["odd"] == "not json"
    finally:
        await ar.aclose()


def test_trends_are_sampled_and_drawn_as_inline_svg(client: TestClient, redis_url: str) -> None:
    login(client, "sup")
    r = redis.Redis.from_url(redis_url)
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    for _ in range(50):  # the sampler takes its first sample at start-up
        if r.llen(keys.dashboard_trend(day)):
            break
        time.sleep(0.05)
    point = json.loads(r.lindex(keys.dashboard_trend(day), 0))
    assert set(point["queues"]) == {"support", "complaints"}
    svg = client.get("/wallboard/trends").text
    assert svg.count("<svg") == 4 and "support: callers waiting" in svg and "http" not in svg.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")


def test_redis_down_is_a_clear_503(tmp_path: Path) -> None:
    own = RedisServer(tmp_path / "redis")  # a Redis of this test's own, so it can be stopped
    own.start()
    try:
        add_users(own.url)
        with TestClient(create_app(dashboard_settings(own.url, tmp_path))) as c:
            login(c, "sup")
            own.stop()
            resp = c.get("/api/queues")
            assert resp.status_code == 503 and "Redis" in resp.json()["detail"]
    finally:
        own.stop()
