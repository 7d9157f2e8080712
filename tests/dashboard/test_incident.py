"""Incident statement: on with text and recovery time (synthesized per language), off; audited."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from redis.asyncio import Redis

from ivr import keys
from ivr.prompts import prompt_file
from ivr.state.incident import Incident, get_incident, render_statement
from tests.dashboard_support import login
from tests.support.components import require

pytestmark = pytest.mark.timeout(90)


def engine_view(redis_url: str) -> Incident | None:
    async def go() -> Incident | None:
        r = Redis.from_url(redis_url)
        try:
            return await get_incident(r)
        finally:
            await r.aclose()

    return asyncio.run(go())


def test_turn_on_synthesizes_each_language_then_off(client: TestClient, redis_url: str, tmp_path: Path) -> None:
    require("espeak-ng", "incident statement synthesis")
    csrf = login(client, "sup")
    form = {"text_zh-CN": "宽带服务", "text_en-US": "broadband service", "recovery": "今天18:00"}
    assert client.post("/incident/on", data=form).status_code == 403  # no CSRF token
    assert engine_view(redis_url) is None
    resp = client.post("/incident/on", data={**form, "csrf_token": csrf}, follow_redirects=False)
    assert resp.status_code == 303
    incident = engine_view(redis_url)  # exactly what the IVR's incident node reads on the next call
    assert incident is not None and incident.text == {"zh-CN": "宽带服务", "en-US": "broadband service"}
    for lang in ("zh-CN", "en-US"):
        base = prompt_file(render_statement(incident, lang), lang, tmp_path / "state" / "prompts")
        assert base.with_name(base.name + ".wav").stat().st_size > 1000, lang
    page = client.get("/incident", headers={"accept": "text/html"}).text
    assert "预计在今天18:00恢复正常" in page and "ON since" in page

    assert client.post("/incident/off", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert engine_view(redis_url) is None
    assert "OFF" in client.get("/incident", headers={"accept": "text/html"}).text
    audit = [json.loads(e) for e in redis.Redis.from_url(redis_url).lrange(keys.AUDIT_LOG, 0, -1)]
    assert [(e["user"], e["action"]) for e in audit if e["action"].startswith("incident")] == [
        ("sup", "incident_on"), ("sup", "incident_off")]


def test_bad_input_is_named_and_nothing_changes(client: TestClient, redis_url: str) -> None:
    csrf = login(client, "sup")
    resp = client.post("/incident/on", data={"text_en-US": "broadband", "recovery": "", "csrf_token": csrf})
    assert resp.status_code == 400
    assert "zh-CN: say what is affected" in resp.text and "recovery: give the expected" in resp.text
    assert redis.Redis.from_url(redis_url).get(keys.INCIDENT) is None


def test_json_api(client: TestClient, redis_url: str) -> None:
    require("espeak-ng", "incident statement synthesis")
    csrf = login(client, "sup")
    body = {"text": {"zh-CN": "手机银行"}, "recovery": "明天上午"}
    assert client.put("/api/incident", json=body).status_code == 403
    on = client.put("/api/incident", json=body, headers={"x-csrf-token": csrf}).json()
    assert on["incident"]["on"] is True and "手机银行" in on["statements"]["zh-CN"]
    assert client.get("/api/incident").json()["incident"]["recovery"] == "明天上午"
    assert client.delete("/api/incident", headers={"x-csrf-token": csrf}).status_code == 200
    assert client.get("/api/incident").json()["incident"]["on"] is False
