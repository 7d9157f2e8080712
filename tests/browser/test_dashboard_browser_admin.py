"""In real Chromium: turn on the incident statement (the wallboard shows it), and try to save a
broken flow: the error is shown and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Dashboard, login
from tests.dashboard_support import PASSWORDS
from tests.support.components import require

pytestmark = pytest.mark.timeout(90)


def test_turn_on_an_incident(dashboard: Dashboard, page: Any) -> None:
    require("espeak-ng", "incident statement synthesis")
    login(page, dashboard, "sup", PASSWORDS["sup"])
    assert page.is_hidden("#incident-banner")
    page.goto(f"{dashboard.url}/incident")
    assert "OFF" in page.inner_text("#incident-state")
    page.fill("input[name='text_zh-CN']", "宽带服务")
    page.fill("input[name='text_en-US']", "broadband service")
    page.fill("input[name=recovery]", "今天18:00")
    page.click("#incident-form button[type=submit]")
    page.wait_for_selector("#incident-state.banner")
    assert "ON since" in page.inner_text("#incident-state")
    assert "预计在今天18:00恢复正常" in page.inner_text(".statement[lang='zh-CN']")
    assert "broadband service" in page.inner_text(".statement[lang='en-US']")
    page.goto(f"{dashboard.url}/wallboard")
    page.wait_for_selector("#incident-banner:not([hidden])")
    assert "宽带服务" in page.inner_text("#incident-banner")
    page.goto(f"{dashboard.url}/incident")
    page.click("#incident-off")
    page.wait_for_selector("#incident-state:has-text('OFF')")


def test_broken_flow_shows_the_error_and_is_not_saved(dashboard: Dashboard, page: Any) -> None:
    flow_file = dashboard.root / "flows" / "hotline.yaml"
    before = flow_file.read_text()
    login(page, dashboard, "boss", PASSWORDS["boss"])
    page.goto(f"{dashboard.url}/flows/hotline")
    assert page.locator("svg.flowgraph g.node").count() > 5
    broken = before.replace("start: greeting", "start: no_such_node")
    page.fill("#flow-text", broken)
    page.wait_for_selector("#live-issues li:has-text('no_such_node')")  # checked while typing
    page.click("#review-button")
    page.wait_for_selector("#flow-error")
    assert "Not saved" in page.inner_text("#flow-error")
    assert "no_such_node" in page.inner_text("#issues")
    assert flow_file.read_text() == before
    assert page.input_value("#flow-text") == broken  # the admin's edit is kept to fix it

    page.fill("#flow-text", before.replace("description: Customer-service hotline", "description: Edited"))
    page.wait_for_selector("#live-issues:has-text('No errors')")
    page.click("#review-button")
    page.wait_for_selector("#diff .add")
    assert "+description: Edited" in page.inner_text("#diff")
    page.click("#save-button")
    page.wait_for_selector("#saved")
    assert "description: Edited" in flow_file.read_text()
