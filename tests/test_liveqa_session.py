"""A live call over real sockets into the real recognizer: a forbidden phrase becomes one alert
with its timing, and a leg fed faster than it can be decoded is stopped for lag (post-call only)."""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from harness.audiosocket_peer import stream_leg
from harness.liveqa_audio import concat, decode_like_live, phone_wav, phrase_file, pick, slin
from ivr.liveqa.alerts import Alert
from ivr.liveqa.audiosocket import AudioSocketServer, AudioStream
from ivr.liveqa.matcher import Leg
from ivr.liveqa.recognizer import RecognizerPool
from ivr.liveqa.session import CallInfo, LiveCall
from ivr.liveqa.switches import leg_rules
from ivr.settings import load_settings
from ivr.transcribe.models import load_model, model_path
from tests.support.components import require

Speech = tuple[Any, bytes, Path, dict[str, float]]  # model, the agent's pcm, policy dir, word -> end
INFO = CallInfo("call-1", "support", "1001", "PJSIP/1001-00000001", "PJSIP/caller-00000002")


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    require("espeak-ng", "speech")
    require("sox", "phone-band audio")
    work = tmp_path_factory.mktemp("liveqa-session")
    model = load_model(model_path(load_settings(), "zh"))
    greet = phone_wav("您好，这里是星海科技客服热线", work / "greet.wav", lead_s=0.5, tail_s=0.5)
    turn = concat([greet, phone_wav("你有完没完，我怎么知道", work / "rude.wav", lead_s=0.0, tail_s=2.5)],
                  work / "turn.wav")
    heard_greet, heard = decode_like_live(model, slin(greet)), decode_like_live(model, slin(turn))
    words = pick(heard, after=len(slin(greet)) / 16000, avoid={w.word for w in heard_greet}, n=3, min_conf=0.9)
    assert words, heard
    policy = work / "policy"
    policy.mkdir()
    phrase_file(policy / "forbidden-phrases-zh.txt", "heard in the rude part", words)
    phrase_file(policy / "greeting-phrases-zh.txt", "heard in the greeting", pick(heard_greet, n=3))
    return model, slin(turn), policy, {w.word: w.end for w in words}


async def _run(speech: Speech, pace: float,
               max_lag_s: float) -> tuple[LiveCall, list[Alert], float]:
    model, pcm, policy, _ = speech
    settings = load_settings(qa_policy_dir=policy)
    alerts: list[Alert] = []

    async def sink(alert: Alert) -> None:
        alerts.append(alert)

    with ThreadPoolExecutor(2) as pool:
        call = LiveCall(INFO, leg_rules(settings, "zh"), RecognizerPool(model), pool, sink, max_lag_s=max_lag_s)
        ids: dict[str, Leg] = {str(uuid.uuid4()): "agent", str(uuid.uuid4()): "caller"}

        async def handler(stream_id: str, audio: AudioStream) -> None:
            await call.stream(ids[stream_id], audio)

        server = AudioSocketServer("127.0.0.1", 0, handler)
        port = await server.start()
        server.expected.update(ids)
        start = time.time() + 0.2
        try:
            await asyncio.gather(*(stream_leg("127.0.0.1", port, sid, pcm if leg == "agent" else bytes(len(pcm)),
                                              start, pace=pace) for sid, leg in ids.items()))
            await asyncio.wait_for(call.done(), 20)
        finally:
            await server.stop()
    return call, alerts, start


@pytest.mark.timeout(120)
async def test_a_forbidden_phrase_streamed_in_real_time_is_one_alert_with_its_timing(
        speech: Speech) -> None:
    call, alerts, start = await _run(speech, pace=1.0, max_lag_s=3.0)
    # Each listed word was heard once offline; live decoding differs a little (Kaldi's dither, and
    # the other leg's recognizer draws from the same rand()), so at least one of them, each once.
    assert alerts and all((a.kind, a.leg, a.call_id, a.agent) == ("forbidden_phrase", "agent", "call-1", "1001")
                          for a in alerts), alerts
    assert len({a.phrase for a in alerts}) == len(alerts), alerts
    alert = alerts[0]
    phrase_end = speech[3][alert.phrase]
    # Recognised in a partial result: placed where decoding was then, after the phrase's end
    assert phrase_end - 0.2 <= alert.t < phrase_end + 2.0, (alert, phrase_end)
    assert abs((alert.at - alert.delay_s - alert.t) - start) < 0.3  # the leg's clock starts with its audio
    assert 0 <= alert.behind_s <= alert.delay_s < 2.0, alert
    assert call.stop_reason in ("", "agent left")
    assert call.seconds["agent"] == pytest.approx(len(speech[1]) / 16000, abs=0.1)


@pytest.mark.timeout(120)
async def test_a_leg_that_outruns_recognition_is_stopped_for_lag(speech: Speech) -> None:
    call, _, _ = await _run(speech, pace=0.0, max_lag_s=1.0)  # the whole call at once: far more than 1 s waits
    assert call.stop_reason == "lag"
    assert call.seconds["agent"] < len(speech[1]) / 16000  # it stopped before decoding it all
