"""In real Chromium: play a recording, see the transcript line being played highlighted, score the call."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.conftest import Dashboard, login
from tests.dashboard_support import PASSWORDS, write_call, write_recording

pytestmark = pytest.mark.timeout(90)
CALL = "1700000000.7"


@pytest.fixture
def call(dashboard: Dashboard) -> str:
    fields = write_recording(dashboard.root / "recordings", CALL, seconds=4.0)
    write_call(dashboard.redis_url, CALL, time.time() - 120, agent="1001", queue="support",
               outcome="answered", survey={"score": 4, "scale": 5}, **fields)
    return CALL


def test_playback_highlights_the_transcript_line(dashboard: Dashboard, call: str, page: Any) -> None:
    login(page, dashboard, "sup", PASSWORDS["sup"])
    page.goto(f"{dashboard.url}/calls/{call}")
    assert "[PHONE]" in page.inner_text("#transcript")  # supervisors see redacted text
    assert "13812345678" not in page.content()
    assert page.locator('.line[data-i="1"] .flag').inner_text().endswith("talk-over")

    page.evaluate("document.getElementById('player').play()")
    page.wait_for_selector('.line.active[data-i="0"]', timeout=5000)  # 0.2-1.4 s: the greeting
    page.wait_for_selector('.line.active[data-i="1"]', timeout=5000)  # then the caller's line
    assert page.locator(".line.active").count() == 1

    page.click('.line[data-i="2"]')  # click a line: playback jumps there
    page.wait_for_selector('.line.active[data-i="2"]', timeout=3000)
    t = page.evaluate("document.getElementById('player').currentTime")
    assert 2.8 <= t < 4.0


def test_submit_a_score(dashboard: Dashboard, call: str, page: Any) -> None:
    login(page, dashboard, "sup", PASSWORDS["sup"])
    page.goto(f"{dashboard.url}/calls/{call}")
    assert page.inner_text("#survey") == "4 / 5"  # the caller's survey answer, as the engine records it
    for name, value in (("answering", "100"), ("accuracy", "80"), ("handling", "60"), ("satisfaction", "90")):
        page.fill(f"input[name=kpi_{name}]", value)
    page.fill("textarea[name=comment]", "greeted well, slow to log the fault")
    page.click("#score-form button[type=submit]")
    page.wait_for_selector(".score .badge.on")
    text = page.inner_text(".score")
    assert "81.0" in text and "by sup" in text  # 0.2*100 + 0.2*80 + 0.3*60 + 0.3*90
    assert page.inner_text("#score-form button") == "Supersede score"
