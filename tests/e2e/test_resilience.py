"""`ivr serve` keeps answering while Redis is unreachable, and the call record arrives later."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.clock import MutableClock
from ivr.settings import Settings
from ivr.simulate.scenarios import Dtmf, Hangup, Wait
from ivr.simulate.service_thread import ServiceThread
from ivr.simulate.sipp import place_calls
from ivr.simulate.timeline import ms_until_menu
from tests.e2e.conftest import MONDAY_10AM
from tests.support.calls import dtmf, find_record, node_path
from tests.support.components import RedisServer

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def late_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "late-redis")  # not started: nothing listens on its port yet
    yield server
    server.stop()


@pytest.mark.timeout(120)
def test_calls_flow_while_redis_is_down_and_records_arrive_after(
    e2e_settings: Settings, asterisk: object, late_redis: RedisServer
) -> None:
    settings = e2e_settings.model_copy(update={"redis_url": late_redis.url})
    svc = ServiceThread(settings, MutableClock(MONDAY_10AM))
    svc.start()
    try:
        at_menu = ms_until_menu(settings, "hotline", "main_menu")
        caller = "13800000031"
        result = place_calls(f"127.0.0.1:{settings.sip_port}", "hotline",
                             [Wait(at_menu + 1500), Dtmf("3"), Wait(3000), Hangup()], [caller], timeout_s=60)
        assert result.ok, result.stderr[-2000:]
        late_redis.start()
        rec = find_record(late_redis.url, caller, timeout=30)
    finally:
        svc.stop()
    path = node_path(rec)
    assert "main_menu" in path and "complaint" in path, path
    assert dtmf(rec)[-1] == "3"
    assert rec["outcome"] == "caller_hangup"
