"""Redacted transcripts: numbers split across utterances, roles, the `ivr redact` command."""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from ivr.privacy.redact import redact_text, redact_transcript, view_text, view_transcript
from ivr.transcribe.transcript import Transcript, Utterance, Word

pytestmark = pytest.mark.timeout(20)


def utt(speaker: str, start: float, text: str, end: float | None = None) -> Utterance:
    words = [
        Word(word=w, start=start + i * 0.3, end=start + i * 0.3 + 0.25) for i, w in enumerate(text.split())
    ]
    return Utterance.model_validate(
        {
            "speaker": speaker,
            "start": start,
            "end": end or start + 0.3 * len(text.split()),
            "text": text,
            "words": words,
        }
    )


def test_number_read_in_chunks_across_utterances_is_redacted() -> None:
    t = Transcript(
        utterances=[
            utt("caller", 1.0, "我 的 电话 是 138 1234"),
            utt("agent", 3.0, "嗯"),
            utt("caller", 3.5, "5678"),
            utt("agent", 5.0, "好的 谢谢"),
        ]
    )
    r = redact_transcript(t)
    assert [u.text for u in r.utterances] == ["我 的 电话 是 [PHONE]", "嗯", "[PHONE]", "好的 谢谢"]


def test_utterances_far_apart_are_not_joined() -> None:
    t = Transcript(utterances=[utt("caller", 1.0, "订单 123 456", end=2.0), utt("caller", 30.0, "数量 7")])
    assert [u.text for u in redact_transcript(t).utterances] == ["订单 123 456", "数量 7"]


def test_speakers_are_not_mixed() -> None:
    # The agent's "1234" and the caller's "567" are not one number.
    t = Transcript(utterances=[utt("agent", 1.0, "工号 1234"), utt("caller", 2.0, "房间 567")])
    assert [u.text for u in redact_transcript(t).utterances] == ["工号 1234", "房间 567"]


def test_redacted_view_drops_word_detail_and_keeps_timing() -> None:
    t = Transcript(call_id="c1", utterances=[utt("caller", 2.0, "卡号 6222 0212 3456 7890")])
    r = redact_transcript(t)
    assert r.utterances[0].words == []
    assert (r.utterances[0].start, r.call_id) == (2.0, "c1")
    assert "6222" not in r.to_json()
    assert "6222" in t.to_json()  # the original is untouched


def test_roles() -> None:
    t = Transcript(utterances=[utt("caller", 0.0, "邮箱 a@b.com")])
    assert view_transcript(t, "admin") is t
    for role in ("supervisor", "agent", "", "ADMIN"):
        assert view_transcript(t, role).utterances[0].text == "邮箱 [EMAIL]"
    assert view_text("13812345678", "admin") == "13812345678"
    assert view_text("13812345678", "supervisor") == "[PHONE]"


def test_long_hostile_text_stays_fast() -> None:
    for text in ("one " * 3000 + "at", "a.b." * 2000 + "@", "1 " * 5000, "幺" * 10000):
        started = time.perf_counter()
        redact_text(text)
        assert time.perf_counter() - started < 2.0


def test_cli_redact_text_and_transcript() -> None:
    from ivr.cli.main import build_app

    runner = CliRunner()
    out = runner.invoke(build_app(), ["redact"], input="电话 幺三八 1234 5678\n买3个\n")
    assert out.exit_code == 0, out.output
    assert out.stdout == "电话 [PHONE]\n买3个\n"

    t = Transcript(utterances=[utt("caller", 0.0, "身份证 110101199003071234")])
    out = runner.invoke(build_app(), ["redact", "--transcript"], input=t.to_json())
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["utterances"][0]["text"] == "身份证 [ID]"

    bad = runner.invoke(build_app(), ["redact", "--transcript"], input="{not json")
    assert bad.exit_code == 1
    assert "<stdin>: not JSON" in bad.output
