"""Real calls: SIPp -> private Asterisk -> our FastAGI server -> hotline.yaml; assert on the call record."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.calls import caller_audio
from harness.scenarios import Audio, AwaitHangup, Dtmf, Hangup, Wait
from harness.sipp import place_calls
from harness.timeline import ms_until_menu
from ivr.clock import MutableClock
from ivr.settings import Settings
from tests.e2e.conftest import SUNDAY_10AM
from tests.support.calls import dtmf, find_record, node_path

pytestmark = [pytest.mark.e2e]


def _target(settings: Settings) -> str:
    return f"127.0.0.1:{settings.sip_port}"


@pytest.mark.timeout(90)
def test_dtmf_takes_the_menu_branch(e2e_settings: Settings, service: object) -> None:
    at_menu = ms_until_menu(e2e_settings, "hotline", "main_menu")
    caller = "13800000001"
    result = place_calls(
        _target(e2e_settings), "hotline",
        [Wait(at_menu + 1500), Dtmf("2"), Wait(4000), Hangup()], [caller], timeout_s=60,
    )
    assert result.ok, result.stderr[-2000:]
    rec = find_record(e2e_settings.redis_url, caller)
    path = node_path(rec)
    assert path[:2] == ["greeting", "choose_language"]
    assert "main_menu" in path and "repair" in path, path
    assert path.index("repair") > path.index("main_menu")
    assert "enquiry" not in path and "after_hours" not in path
    assert dtmf(rec)[-1] == "2"
    assert rec["category"] == "repair"
    assert rec["outcome"] == "caller_hangup"
    assert rec["flow"] == "hotline" and rec["flow_version"]


@pytest.mark.timeout(120)
def test_after_hours_goes_to_voicemail(
    e2e_settings: Settings, service: object, clock: MutableClock, tmp_path: Path
) -> None:
    clock.set(SUNDAY_10AM)
    lead = ms_until_menu(e2e_settings, "hotline", "voicemail", clock_open=False) / 1000 + 1.0
    caller = "13800000002"
    result = place_calls(
        _target(e2e_settings), "hotline",
        [Audio(caller_audio(tmp_path, lead)), AwaitHangup(60000)], [caller], timeout_s=90,
    )
    assert result.ok, result.stderr[-2000:]
    rec = find_record(e2e_settings.redis_url, caller)
    path = node_path(rec)
    assert "after_hours" in path and "voicemail" in path and "main_menu" not in path, path
    assert path[-1] == "goodbye"
    assert rec["outcome"] == "voicemail"
    message = Path(rec["voicemail"]["file"] if isinstance(rec["voicemail"], dict) else rec["voicemail"])
    assert message.with_suffix(".wav").exists() or message.exists()


@pytest.mark.timeout(90)
def test_flow_server_down_still_reaches_the_fallback(e2e_settings: Settings, asterisk: object) -> None:
    caller = "13800000003"
    result = place_calls(_target(e2e_settings), "hotline", [Wait(6000), Hangup()], [caller], timeout_s=60)
    assert result.ok, result.stderr[-2000:]
    rec = find_record(e2e_settings.redis_url, caller, finished=False)
    assert rec["fallback"] is True
    assert rec["fallback_reason"] == "FAILURE"
    assert rec["fallback_queue"] == e2e_settings.fallback_queue
