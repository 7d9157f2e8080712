"""The recording's wiring without a call: the rendered dialplan names the files exactly as
ivr.recording.paths.recording_paths does, queues.conf records only queues with `record: true`, who hung
up first, and the hook (through its real wrapper, on real Redis) links the files and queues the job."""

from __future__ import annotations

import json
import re
import subprocess
import wave
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis

from ivr import keys
from ivr.asterisk.config import render
from ivr.asterisk.queues_conf import render_queues_conf
from ivr.asterisk.recording_conf import RecordingConfigError, recording_dialplan, write_recording_wrapper
from ivr.queueing.config import load_queue_config
from ivr.recording.link import hangup_by
from ivr.recording.paths import recording_paths, started_on
from ivr.settings import REPO_ROOT, Settings, load_settings

pytestmark = pytest.mark.timeout(60)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def dialplan_names(etc: Path, uniqueid: str, epoch: int) -> dict[str, Path]:
    """Evaluate what [ivr-recording] and app_queue make of the rendered config for one call:
    STRFTIME of the day, MONITOR_FILENAME + "." + the queue's monitor-format, MONITOR_OPTIONS r()/t()."""
    text = (etc / "extensions_recording.conf").read_text()
    day = re.search(r"Set\(IVR_REC_DAY=\$\{STRFTIME\(\$\{EPOCH\},([^,]+),([^)]+)\)\}\)", text)
    assert day, text
    local_day = datetime.fromtimestamp(epoch, ZoneInfo(day[1])).strftime(day[2])

    def value(var: str) -> str:
        m = re.search(rf"Set\({var}=(.*)\)$", text, re.M)
        assert m, f"{var} not set in {text}"
        named = re.sub(r"\$\{FILTER\([^,]+,\$\{UNIQUEID\}\)\}", uniqueid, m[1])  # uniqueid passes FILTER
        return named.replace("${IVR_REC_DAY}", local_day)

    queues = (etc / "queues_generated.conf").read_text()
    fmt = re.search(r"^monitor-format=(\w+)", queues, re.M)
    assert fmt, queues
    opts = re.fullmatch(r"r\(([^)]+)\)t\(([^)]+)\)", value("MONITOR_OPTIONS"))
    assert opts, value("MONITOR_OPTIONS")
    return {"mixed": Path(f"{value('MONITOR_FILENAME')}.{fmt[1]}"), "caller": Path(opts[1]),
            "agent": Path(opts[2])}


@pytest.mark.parametrize("local", [
    datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI),
    datetime(2026, 11, 23, 0, 30, tzinfo=SHANGHAI),   # still the 22nd in UTC
    datetime(2026, 12, 31, 23, 59, tzinfo=SHANGHAI),  # the 31st here, a new year nowhere yet
])
def test_dialplan_names_are_recording_paths(tmp_path: Path, local: datetime) -> None:
    settings = load_settings(state_dir=tmp_path / "state", recordings_dir=tmp_path / "rec",
                             timezone="Asia/Shanghai")
    etc = render(settings, tmp_path / "rt", tmp_path / "prefix").parent
    uniqueid = f"{int(local.timestamp())}.17"
    names = dialplan_names(etc, uniqueid, int(local.timestamp()))
    # The hook rebuilds the paths from the uniqueid and the day the dialplan passes it.
    day = f"{local:%Y/%m/%d}"
    expected = recording_paths(settings.recordings_dir, uniqueid, started_on(day, settings.timezone))
    assert names == {"mixed": expected.mixed, "caller": expected.caller, "agent": expected.agent}
    assert expected.dir == (tmp_path / "rec").resolve() / f"{local:%Y}" / f"{local:%m}" / f"{local:%d}"
    extensions = (etc / "extensions.conf").read_text()
    run = extensions[extensions.index("[hotline-run]"):]
    assert run.index("Gosub(ivr-recording,s,1)") < run.index("AGI(${GLOBAL(IVR_AGI_URL)}")
    assert "#include extensions_recording.conf" in extensions


def test_only_queues_with_record_true_are_recorded(tmp_path: Path) -> None:
    cfg = load_queue_config(REPO_ROOT / "ivr" / "flows" / "queues.yaml")
    queues = dict(cfg.queues)
    queues["complaints"] = queues["complaints"].model_copy(update={"record": False})
    text = render_queues_conf(cfg.model_copy(update={"queues": queues}))
    sections = dict(re.findall(r"^\[(\w+)\]\n(.*?)(?=^\[|\Z)", text, re.M | re.S))
    assert "monitor-format=wav" in sections["support"]
    assert "monitor-format" not in sections["complaints"]
    assert cfg.queues["support"].record is True  # the default


def test_unsafe_recordings_dir_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RecordingConfigError, match="IVR_RECORDINGS_DIR"):
        recording_dialplan(load_settings(recordings_dir=tmp_path / "a,b"))
    with pytest.raises(RecordingConfigError, match="longer than"):
        recording_dialplan(load_settings(recordings_dir=tmp_path / ("x" * 200)))


@pytest.mark.parametrize(("source", "expected"), [
    ("PJSIP/callers-00000004", "caller"),
    ("PJSIP/1001-00000005", "agent"),
    ("PJSIP/10010-00000005", "system"),  # another member's prefix is not this agent
    ("dialplan/builtin", "system"),
    ("", "system"),
])
def test_hangup_by(source: str, expected: str) -> None:
    assert hangup_by(source, "PJSIP/callers-00000004", "PJSIP/1001") == expected


def write_wav(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x10\x00" * 8000)


def run_hook(settings: Settings, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    wrapper = write_recording_wrapper(settings, tmp_path)
    return subprocess.run([str(wrapper), *args], capture_output=True, text=True, timeout=40, check=False)


def test_hook_writes_hangup_by_links_and_queues(redis_url: str, tmp_path: Path) -> None:
    settings = load_settings(redis_url=redis_url, recordings_dir=tmp_path / "rec", state_dir=tmp_path)
    paths = recording_paths(settings.recordings_dir, "1790000000.3", started_on("2026/11/23", "Asia/Shanghai"))
    for leg in (paths.caller, paths.agent, paths.mixed):
        write_wav(leg)
    before = {p: p.read_bytes() for p in (paths.caller, paths.agent, paths.mixed)}
    out = run_hook(settings, tmp_path, "1790000000.3", "2026/11/23", "source=PJSIP/1001-00000009",
                   "channel=PJSIP/callers-00000008", "member=PJSIP/1001")
    assert out.returncode == 0, out.stderr
    conn = redis.Redis.from_url(redis_url, decode_responses=True)
    rec = {k: json.loads(v) for k, v in conn.hgetall(keys.call("1790000000.3")).items()}
    assert rec[keys.CALL_HANGUP_BY] == "agent"
    assert rec[keys.CALL_RECORDING]["caller"] == str(paths.caller)
    assert rec[keys.CALL_RECORDING]["agent"] == str(paths.agent)
    assert rec[keys.CALL_TRANSCRIPTION]["state"] == "queued"
    assert conn.lrange(f"rq:queue:{settings.transcribe_queue}", 0, -1) == ["transcribe-1790000000_3"]
    assert {p: p.read_bytes() for p in before} == before  # the audio is never touched


def test_hook_without_redis_gives_up_and_keeps_the_files(tmp_path: Path) -> None:
    from tests.support.components import free_port

    settings = load_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0", recordings_dir=tmp_path / "rec",
                             state_dir=tmp_path)
    paths = recording_paths(settings.recordings_dir, "1790000000.4", started_on("2026/11/23", "Asia/Shanghai"))
    write_wav(paths.caller)
    out = run_hook(settings, tmp_path, "1790000000.4", "2026/11/23", "source=", "channel=x", "member=",
                   "--patience", "2")
    assert out.returncode == 1
    assert "recording NOT linked" in out.stderr and "1790000000.4" in out.stderr
    assert paths.caller.is_file()


@pytest.mark.parametrize("args", [["1.2", "2026-11-23"], ["../x", "2026/11/23"], ["1.2", "2026/11/23", "who=me"]])
def test_hook_refuses_bad_arguments(tmp_path: Path, args: list[str]) -> None:
    out = run_hook(load_settings(state_dir=tmp_path, recordings_dir=tmp_path / "rec"), tmp_path, *args)
    assert out.returncode != 0
