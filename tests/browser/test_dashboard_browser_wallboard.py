"""In real Chromium: log in, and watch the wallboard follow Redis within a second."""

from __future__ import annotations

import time
from typing import Any

import pytest
from redis.asyncio import Redis

from ivr.queueing.live import LiveReducer
from ivr.state.ops import Op, apply_ops
from tests.browser.conftest import Dashboard, login
from tests.dashboard_support import PASSWORDS, run_async

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
    """Driven by the AMI listener's own reducer: AMI queue events in, live state written to Redis."""
    reducer = LiveReducer(ring_cycle_s=5.0, rings=3, tz="Asia/Shanghai", autopause_after_misses=0)

    async def write(ops: list[Op]) -> None:
        r = Redis.from_url(dashboard.redis_url)
        try:
            await apply_ops(r, ops)
        finally:
            await r.aclose()

    def ami(*events: dict[str, str]) -> None:
        run_async(write(reducer.feed_many(events, time.time()).ops))

    login(page, dashboard, "sup", PASSWORDS["sup"])
    page.wait_for_selector("#live-status:has-text('live')")
    assert _waiting(page, "support") == "0"

    ami({"Event": "QueueMemberAdded", "Queue": "support", "Interface": "PJSIP/1001", "Status": "1", "Paused": "0"})
    ami({"Event": "QueueCallerJoin", "Queue": "support", "Uniqueid": "1700.1", "CallerIDNum": "13800000001",
         "Position": "1"})
    _wait_for(page, "support", "1")
    assert page.inner_text('[data-q="support"] [data-f="agents.available"]') == "1"

    ami({"Event": "QueueCallerJoin", "Queue": "support", "Uniqueid": "1700.2", "CallerIDNum": "13800000002",
         "Position": "2"})
    _wait_for(page, "support", "2")

    # The agent's phone rings and they answer the first caller, who leaves the queue.
    ami({"Event": "AgentCalled", "Queue": "support", "Uniqueid": "1700.1", "Interface": "PJSIP/1001"})
    ami({"Event": "AgentConnect", "Queue": "support", "Uniqueid": "1700.1", "Interface": "PJSIP/1001",
         "HoldTime": "3", "RingTime": "2"},
        {"Event": "QueueCallerLeave", "Queue": "support", "Uniqueid": "1700.1"})
    _wait_for(page, "support", "1")
    assert page.inner_text('[data-q="support"] [data-f="agents.on_call"]') == "1"
    assert page.inner_text('[data-q="support"] [data-f="answered"]') == "1"
    assert page.inner_text('[data-q="support"] [data-f="service_level_pct"]') == "50.0%"  # 1 of 2 offered

    # The second caller gives up.
    ami({"Event": "QueueCallerAbandon", "Queue": "support", "Uniqueid": "1700.2", "HoldTime": "9"})
    _wait_for(page, "support", "0")
    assert page.inner_text('[data-q="support"] [data-f="abandoned"]') == "1"
    assert _waiting(page, "complaints") == "0"
