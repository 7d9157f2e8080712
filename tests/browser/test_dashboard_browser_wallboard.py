"""In real Chromium: log in, and watch the wallboard follow Redis within a second."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis

from dashboard import queuekeys
from tests.browser.conftest import Dashboard, login
from tests.browser.dashboard_support import PASSWORDS

pytestmark = pytest.mark.timeout(90)


def test_login_refuses_a_wrong_password_then_lets_the_user_in(dashboard: Dashboard, page: Any) -> None:
    page.goto(f"{dashboard.url}/wallboard")
    assert "/login" in page.url  # no access without login
    page.fill("input[name=username]", "sup")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    assert "Wrong user name or password" in page.inner_text("[role=alert]")
    page.fill("input[name=username]", "sup")
    page.fill("input[name=password]", PASSWORDS["sup"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{dashboard.url}/wallboard")
    assert "sup (supervisor)" in page.inner_text("header")
    page.click("text=Log out")
    page.wait_for_url(f"{dashboard.url}/login")


def _waiting(page: Any, queue: str) -> str:
    text: str = page.inner_text(f'[data-q="{queue}"] [data-f="waiting"]')
    return text


def _wait_for(page: Any, queue: str, value: str, deadline_s: float = 1.0) -> float:
    """Seconds until the card shows `value`; fails past `deadline_s` (the wallboard's promise)."""
    start = time.monotonic()
    page.wait_for_function(
        "([q, v]) => document.querySelector(`[data-q=\"${q}\"] [data-f=\"waiting\"]`).textContent === v",
        arg=[queue, value], timeout=deadline_s * 1000 + 500,
    )
    took = time.monotonic() - start
    assert took <= deadline_s, f"wallboard showed {value} after {took:.2f}s (limit {deadline_s}s)"
    return took


def test_waiting_count_follows_callers_entering_and_agents_answering(dashboard: Dashboard, page: Any) -> None:
    r = redis.Redis.from_url(dashboard.redis_url, decode_responses=True)
    login(page, dashboard, "sup", PASSWORDS["sup"])
    page.wait_for_selector("#live-status:has-text('live')")
    assert _waiting(page, "support") == "0"

    # An agent logs in; a caller enters the support queue (as the AMI listener records it).
    r.hset(queuekeys.agents("support"), "1001", json.dumps({"state": "available", "since": time.time()}))
    r.hset(queuekeys.callers("support"), "call-1", json.dumps({"caller": "13800000001", "since": time.time()}))
    _wait_for(page, "support", "1")
    assert page.inner_text('[data-q="support"] [data-f="agents.available"]') == "1"

    r.hset(queuekeys.callers("support"), "call-2", json.dumps({"caller": "13800000002", "since": time.time()}))
    _wait_for(page, "support", "2")

    # The agent answers call-1: it leaves the queue, the agent is on a call, counters move.
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    pipe = r.pipeline()
    pipe.hdel(queuekeys.callers("support"), "call-1")
    pipe.hset(queuekeys.agents("support"), "1001", json.dumps({"state": "on_call", "since": time.time()}))
    pipe.hincrby(queuekeys.day("support", day), "offered", 1)
    pipe.hincrby(queuekeys.day("support", day), "answered", 1)
    pipe.hincrby(queuekeys.day("support", day), "answered_in_time", 1)
    pipe.execute()
    _wait_for(page, "support", "1")
    assert page.inner_text('[data-q="support"] [data-f="agents.on_call"]') == "1"
    assert page.inner_text('[data-q="support"] [data-f="service_level_pct"]') == "100.0%"
    assert _waiting(page, "complaints") == "0"
