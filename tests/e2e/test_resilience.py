"""`ivr serve` keeps answering while Redis is unreachable, and the call record arrives later; with
`ivr serve` down, the dialplan's own voicemail is checked and its fate is on the call record."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ivr.clock import MutableClock
from ivr.settings import Settings
from ivr.simulate.calls import call_record, caller_audio
from ivr.simulate.scenarios import Audio, AwaitHangup, Dtmf, Hangup, Wait
from ivr.simulate.service_thread import ServiceThread
from ivr.simulate.sipp import free_sip_port, place_calls
from ivr.simulate.timeline import ms_until_menu
from tests.e2e.conftest import MONDAY_10AM
from tests.support.calls import dtmf, find_record, node_path
from tests.support.components import RedisServer, free_port, missing

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


# --- voicemail when our Python is down: [hotline-fallback]'s Record() is checked and on record ---

VM_INTRO_S = 5.7  # vm-intro.gsm; the message starts after the fallback queue's 1 s and the prompt


@pytest.fixture
def fallback_pbx(e2e_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A private Asterisk whose flow server never answers (AGISTATUS=FAILURE) and whose fallback
    queue gives up after 1 s, so every call ends in the dialplan's own voicemail."""
    from ivr.asterisk.build import AsteriskNotBuilt
    from ivr.asterisk.config import RuntimeOptions
    from ivr.asterisk.process import AsteriskInstance

    settings = e2e_settings.model_copy(update={
        "sip_port": free_sip_port(), "ami_port": free_port(), "agi_port": free_port(),
        "state_dir": tmp_path / "state", "recordings_dir": tmp_path / "recordings"})
    try:
        inst = AsteriskInstance(settings, tmp_path / "asterisk", RuntimeOptions(fallback_queue_timeout=1))
    except AsteriskNotBuilt as exc:
        missing(f"Asterisk build ({exc})")
    inst.start(timeout=60)
    try:
        yield settings
    finally:
        inst.stop()


def _fallback_voicemail(settings: Settings, caller: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rec = call_record(settings.redis_url, caller, timeout=1, finished=False)
        if rec is not None and "fallback_voicemail" in rec:
            return rec
        time.sleep(0.3)
    raise AssertionError(f"call of {caller}: no fallback_voicemail on the record")


@pytest.mark.timeout(120)
def test_fallback_voicemail_kept_and_lost_are_on_record(fallback_pbx: Settings, tmp_path: Path) -> None:
    target = f"127.0.0.1:{fallback_pbx.sip_port}"
    speech = caller_audio(tmp_path / "audio", 1.0 + VM_INTRO_S + 2.0)
    kept = place_calls(target, "hotline", [Audio(speech), AwaitHangup(30000)], ["13800000041"], timeout_s=60)
    assert kept.ok, kept.stderr[-2000:]
    rec = _fallback_voicemail(fallback_pbx, "13800000041")
    mark = rec["fallback_voicemail"]
    assert rec["fallback"] is True and mark["status"] == "kept", mark
    message = Path(mark["file"])
    # In the day folder retention purges (recordings/voicemail/YYYY/MM/DD), named after the uniqueid.
    assert message.parent.parent.parent.parent == (fallback_pbx.recordings_dir / "voicemail").resolve()
    assert message.name == f"fallback-{rec['call_id']}.wav" and message.is_file()
    assert mark["seconds"] > 1.0 and rec["voicemail"] == str(message)

    # Where the day folder should be there is a file: Record() cannot create its file.
    year = message.parent.parent.parent
    shutil.rmtree(year)
    year.write_text("not a folder")
    lost = place_calls(target, "hotline", [Audio(speech), AwaitHangup(30000)], ["13800000042"], timeout_s=60)
    assert lost.ok, lost.stderr[-2000:]
    mark = _fallback_voicemail(fallback_pbx, "13800000042")["fallback_voicemail"]
    assert (mark["status"], mark["record_status"]) == ("lost", "ERROR"), mark
    console = (tmp_path / "asterisk" / "log" / "console.log").read_text(errors="replace")
    assert "agi.classic ERROR" in console and "fallback voicemail lost" in console
