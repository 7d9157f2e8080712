"""`ivr serve` keeps answering while Redis is unreachable, and the call record arrives later; with
`ivr serve` down, the dialplan's own voicemail is checked and its fate is on the call record."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from agi.channel import AgiChannel
from agi.server import FastAgiServer
from harness.calls import call_record, caller_audio
from harness.scenarios import Audio, AwaitHangup, Dtmf, Hangup, Wait
from harness.service_thread import ServiceThread
from harness.sipp import free_sip_port, place_calls
from harness.timeline import ms_until_menu
from ivr.asterisk.config import RuntimeOptions
from ivr.clock import MutableClock
from ivr.settings import Settings
from tests.e2e.conftest import MONDAY_10AM
from tests.support.calls import dtmf, find_record, node_path
from tests.support.components import RedisServer, free_port
from tests.support.pbx import running_asterisk

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
    settings = e2e_settings.model_copy(update={
        "sip_port": free_sip_port(), "ami_port": free_port(), "agi_port": free_port(),
        "state_dir": tmp_path / "state", "recordings_dir": tmp_path / "recordings",
        # A Redis database of its own: the recording hook may queue a job other tests must not see.
        "redis_url": e2e_settings.redis_url.rsplit("/", 1)[0] + "/5"})
    with running_asterisk(settings, tmp_path / "asterisk", RuntimeOptions(fallback_queue_timeout=1)):
        yield settings


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


@contextmanager
def hostile_flow(port: int, variables: dict[str, str]) -> Iterator[None]:
    """A FastAGI "flow" that sets channel variables, then fails (returns without IVR_DONE=1), as a
    flow with a bad `set` node would: the dialplan takes over with those variables on the channel."""
    async def handler(channel: AgiChannel) -> None:
        for name, value in variables.items():
            await channel.set_variable(name, value)

    loop = asyncio.new_event_loop()
    server = FastAgiServer(lambda _script: handler, "127.0.0.1", port)
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(drain=False), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.mark.timeout(120)
def test_variables_a_failed_flow_set_reach_no_shell_and_no_path(fallback_pbx: Settings, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    elsewhere = tmp_path / "elsewhere"
    variables = {
        "IVR_REC_DAY": f"2026/01/01 $(touch {marker})",  # the recording hook's System() line
        "MIXMONITOR_FILENAME": "as-if-recorded",  # so that [ivr-recording-end] runs System()
        "IVR_RECORDINGS": str(elsewhere),  # the fallback voicemail's folder (a global of that name)
        "IVR_FALLBACK_QUEUE": "support,,,,1,agi://127.0.0.1:1/x",  # Queue() options and an AGI
    }
    speech = caller_audio(tmp_path / "audio", 1.0 + VM_INTRO_S + 2.0)
    with hostile_flow(fallback_pbx.agi_port, variables):
        result = place_calls(f"127.0.0.1:{fallback_pbx.sip_port}", "hotline", [Audio(speech), AwaitHangup(30000)],
                             ["13800000043"], timeout_s=60)
    assert result.ok, result.stderr[-2000:]
    time.sleep(1.5)  # the hangup handlers' System() runs in the background ("&")
    assert not marker.exists(), "a flow-set variable ran a shell command"
    assert not elsewhere.exists(), "a flow-set variable chose where the voicemail was written"
    rec = _fallback_voicemail(fallback_pbx, "13800000043")
    assert rec["fallback_queue"] == fallback_pbx.fallback_queue
    mark = rec["fallback_voicemail"]
    assert mark["status"] == "kept", mark
    assert Path(mark["file"]).is_relative_to((fallback_pbx.recordings_dir / "voicemail").resolve())
