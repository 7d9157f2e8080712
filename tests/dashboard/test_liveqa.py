"""Live QA on the dashboard: recent alerts on both pages and the API, acting on one (audited, on the
call record, the monitor's errors passed on), and the /metrics families of `ivr liveqa`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from ivr import keys
from ivr.liveqa.alerts import Alert, publish_ops
from ivr.settings import Settings
from ivr.state.ops import apply_ops
from tests.dashboard_support import dashboard_settings, login, run_async, with_shipped_queues
from tests.support.components import free_port

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    return with_shipped_queues(dashboard_settings(redis_url, tmp_path, ami_port=free_port()))  # AMI: nobody


def _alert(settings: Settings, age_s: float = 1.0, **fields: object) -> Alert:
    now = time.time() - age_s
    alert = Alert(**{"at": now, "call_id": "c-1", "queue": "support", "agent": "1001", "kind": "forbidden_phrase",
                     "leg": "agent", "phrase": "喂", "t": 12.5, "delay_s": 0.9, **fields})

    async def write() -> None:
        client = aioredis.Redis.from_url(settings.redis_url)
        try:
            await apply_ops(client, publish_ops(alert, settings))
        finally:
            await client.aclose()

    run_async(write())
    return alert


def test_recent_alerts_are_listed_and_both_pages_carry_the_panel(client: TestClient, settings: Settings) -> None:
    old = _alert(settings, age_s=settings.liveqa_alert_keep_s + 60, call_id="c-old")
    fresh = _alert(settings)
    login(client, "sup")
    got = client.get("/api/liveqa/alerts").json()["alerts"]
    assert [a["id"] for a in got] == [fresh.id] and old.id not in json.dumps(got)
    for page in ("/wallboard", "/live"):
        html = client.get(page, headers={"accept": "text/html"}).text
        assert 'id="liveqa-alerts"' in html and "/static/liveqa.js" in html, page
    assert client.get("/static/liveqa.js").status_code == 200


def test_acting_on_an_alert_is_audited_and_written_on_the_call_record(client: TestClient, settings: Settings,
                                                                     redis_url: str) -> None:
    alert = _alert(settings)
    csrf = login(client, "sup")
    url = f"/api/liveqa/alerts/{alert.id}/act"
    assert client.post(url, json={"mode": "listen"}).status_code == 403  # no CSRF token
    assert client.post(url, json={"mode": "barge"}, headers={"x-csrf-token": csrf}).status_code == 400
    unknown = client.post("/api/liveqa/alerts/nope/act", json={"mode": "listen"}, headers={"x-csrf-token": csrf})
    assert unknown.status_code == 404 and "not among the recent alerts" in unknown.json()["detail"]
    resp = client.post(url, json={"mode": "whisper"}, headers={"x-csrf-token": csrf})
    assert resp.status_code == 503 and "Asterisk (AMI) cannot be reached" in resp.json()["detail"]
    r = redis.Redis.from_url(redis_url)
    audit = [json.loads(e) for e in r.lrange(keys.AUDIT_LOG, 0, -1)]
    acted = [(e["target"], e["detail"]["alert"], e["detail"]["mode"], e["detail"]["ok"]) for e in audit
             if e["action"] == "liveqa"]
    assert acted == [("c-1", alert.id, "whisper", False)]
    assert [e["action"] for e in audit if e["action"] == "monitor"] == ["monitor"]  # the monitor's own entry
    events = [json.loads(e) for e in r.lrange(keys.call_events("c-1"), 0, -1)]
    assert [e["kind"] for e in events] == ["liveqa_alert"]  # not acted: the phone was never rung


def test_metrics_count_alerts_streams_degraded_calls_and_fresh_loads(client: TestClient, settings: Settings,
                                                                    redis_url: str) -> None:
    _alert(settings)
    r = redis.Redis.from_url(redis_url)
    r.hset(keys.LIVEQA_COUNTS, mapping={"streamed": 5, "degraded:capacity": 2})
    r.hset(keys.LIVEQA_LOAD, mapping={"a": json.dumps({"calls": 3, "capacity": 4, "at": time.time()}),
                                      "gone": json.dumps({"calls": 1, "capacity": 4, "at": time.time() - 600})})
    text = client.get("/metrics").text
    assert 'ivr_liveqa_alerts_total{kind="forbidden_phrase"} 1.0' in text
    assert 'ivr_liveqa_alerts_total{kind="no_greeting"} 0.0' in text
    assert "ivr_liveqa_calls_streamed_total 5.0" in text
    assert 'ivr_liveqa_calls_degraded_total{reason="capacity"} 2.0' in text
    assert 'ivr_liveqa_calls_degraded_total{reason="lag"} 0.0' in text
    assert 'ivr_liveqa_calls{node="a"} 3.0' in text and 'ivr_liveqa_capacity{node="a"} 4.0' in text
    assert 'node="gone"' not in text
