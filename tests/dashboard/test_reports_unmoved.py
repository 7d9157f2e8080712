"""/reports and /api/reports count the finished calls still only in Redis (the mover lags or the records
database was down) and say so; in-progress calls are not counted."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from ivr.settings import Settings
from tests.dashboard_support import dashboard_settings, login, write_call

pytestmark = pytest.mark.timeout(60)
TZ = ZoneInfo("Asia/Shanghai")
NOW = "2026-03-04T10:00:00+08:00"


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    t = datetime(2026, 3, 2, 9, tzinfo=TZ).timestamp()
    for i, in_time in enumerate((True, True, False)):
        write_call(redis_url, f"u{i}", t + i, agent="1001", outcome="answered", category="repair",
                   answered_within_3_rings=in_time, duration=60.0)
    write_call(redis_url, "in-progress", t + 10, agent="1001", category="repair")  # no outcome yet
    return dashboard_settings(redis_url, tmp_path, fake_now=NOW)


def test_reports_count_calls_not_moved_yet_and_say_so(client: TestClient) -> None:
    login(client, "sup")
    body = client.get("/api/reports").json()
    kpi = {r["agent"]: r for r in body["kpi"]}
    assert kpi["1001"]["calls"] == 3 and kpi["1001"]["answering"] == round(200 / 3, 1)
    assert body["by_category"] == [{"category": "repair", "calls": 3, "outcomes": {"answered": 3},
                                    "mean_duration_s": 60.0}]
    assert body["unmoved"] == {"counted": 3, "waiting": 4, "complete": True}
    page = client.get("/reports", headers={"accept": "text/html"}).text
    assert 'id="unmoved"' in page and "3 finished call(s) not yet moved" in page
    assert 'id="unmoved-incomplete"' not in page
