"""Agents log in / pause / unpause / log out over the dashboard's HTTP API, against a real private
Asterisk (AMI QueueAdd / QueuePause / QueueRemove), and every action is in the audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from ivr import keys
from ivr.settings import Settings
from tests.dashboard_support import login
from tests.support.pbx import dashboard_pbx

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory, redis_server: Any) -> Iterator[Settings]:
    with dashboard_pbx(Path(tmp_path_factory.mktemp("agents-pbx")), redis_server.url, "dash-agents-secret") as s:
        yield s


@pytest.fixture
def settings(pbx: Settings, redis_url: str) -> Settings:
    return pbx.model_copy(update={"redis_url": redis_url})


@pytest.fixture
def csrf(client: TestClient) -> str:
    return login(client, "sup")


def _member(c: TestClient, queue: str, agent: str) -> dict[str, Any] | None:
    resp = c.get("/api/agents", params={"queue": queue})
    assert resp.status_code == 200, resp.text
    return next((m for m in resp.json() if m["agent"] == agent), None)


def test_login_pause_unpause_logout(client: TestClient, csrf: str, redis_url: str) -> None:
    c = client
    h = {"X-CSRF-Token": csrf}
    assert c.post("/api/agents/1002", json={"action": "login", "queue": "support"}, headers=h).status_code == 200
    member = _member(c, "support", "1002")
    assert member is not None and not member["paused"] and member["name"] == "李伟"

    resp = c.post("/api/agents/1002", json={"action": "pause", "reason": "training"}, headers=h)
    assert resp.status_code == 200, resp.text
    member = _member(c, "support", "1002")
    assert member is not None and member["paused"] and member["paused_reason"] == "training"

    assert c.post("/api/agents/1002", json={"action": "unpause"}, headers=h).status_code == 200
    member = _member(c, "support", "1002")
    assert member is not None and not member["paused"]

    resp = c.post("/api/agents/1002", json={"action": "logout"}, headers=h)
    assert resp.status_code == 200 and "support" in resp.json()["result"]
    assert _member(c, "support", "1002") is None

    r = redis.Redis.from_url(redis_url, decode_responses=True)
    audit = [json.loads(e) for e in r.lrange(keys.AUDIT_LOG, 0, -1)]
    r.close()
    done = [(e["detail"]["change"], e["detail"]["ok"]) for e in audit if e["action"] == "agent"]
    assert done == [("login", True), ("pause", True), ("unpause", True), ("logout", True)]
    assert all(e["user"] == "sup" for e in audit if e["action"] == "agent")


def test_bad_requests_are_refused_and_named(client: TestClient, csrf: str) -> None:
    c = client
    h = {"X-CSRF-Token": csrf}
    resp = c.post("/api/agents/1002", json={"action": "pause", "reason": "  "}, headers=h)
    assert resp.status_code == 400 and "reason" in resp.json()["detail"]
    resp = c.post("/api/agents/9999", json={"action": "login", "queue": "support"}, headers=h)
    assert resp.status_code == 400 and "unknown agent '9999'" in resp.json()["detail"]
    resp = c.post("/api/agents/1002", json={"action": "login", "queue": "complaints"}, headers=h)
    assert resp.status_code == 400 and "may not log in" in resp.json()["detail"]
    resp = c.post("/api/agents/1002", json={"action": "dance"}, headers=h)
    assert resp.status_code == 422
    assert c.post("/api/agents/1002", json={"action": "unpause"}).status_code == 403  # no CSRF token
