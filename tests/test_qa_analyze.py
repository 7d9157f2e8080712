"""QA flags per call, on transcripts written by hand; storing and re-running on real Redis."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from ivr import keys
from ivr.qa.analyze import QaConfig, analyze
from ivr.qa.store import analyse_and_store, phrase_lists, rerun
from ivr.settings import REPO_ROOT, load_settings
from ivr.transcribe.transcript import Transcript, Utterance, Word, parse_text, save_transcript

pytestmark = pytest.mark.timeout(30)
POLICY = REPO_ROOT / "ivr" / "policy"
ZH = phrase_lists(POLICY, "zh-CN")
CFG = QaConfig(greeting_window=10.0, long_silence=8.0, talkover_min=1.0, phrase_max_gap=2.0)


def utt(speaker: str, start: float, end: float, text: str) -> Utterance:
    """Words spread evenly over [start, end], like a recognizer's word timings."""
    parts = text.split() or [text]
    step = (end - start) / len(parts)
    words = [Word(word=w, start=start + i * step, end=start + (i + 1) * step) for i, w in enumerate(parts)]
    return Utterance.model_validate(
        {"speaker": speaker, "start": start, "end": end, "text": text, "words": words}
    )


GOOD_CALL = Transcript(
    language="zh-CN",
    duration=30.0,
    utterances=[
        utt("agent", 0.5, 3.0, "您好 这里 是 客服 中心 请问 有 什么 可以 帮 您"),
        utt("caller", 3.5, 6.0, "我 的 网络 坏 了"),
        utt("agent", 6.5, 9.0, "对不起 请 稍等"),
        utt("caller", 9.5, 10.5, "好 的"),
        utt("agent", 11.0, 14.0, "已经 为 您 处理 好 了 谢谢 再见"),
    ],
)


def kinds(t: Transcript, **kw: str | None) -> list[str]:
    return analyze(t, ZH, CFG, **kw).kinds()  # type: ignore[arg-type]


def test_a_good_call_has_no_flags() -> None:
    result = analyze(GOOD_CALL, ZH, CFG, hangup_by="caller")
    assert result.flags == []
    assert set(result.metrics["courtesy_found"]) >= {
        "您好",
        "请",
        "谢谢",
        "对不起",
        "再见",
        "请问有什么可以帮您",
    }
    assert result.metrics["courtesy_missing"] == ["非常抱歉，让您久等了", "感谢您的来电"]
    assert result.metrics["greeting_at"] == pytest.approx(0.5)


def test_forbidden_phrases_are_flagged_with_the_agents_time() -> None:
    t = GOOD_CALL.model_copy(
        update={
            "utterances": [
                *GOOD_CALL.utterances,
                utt("agent", 20.0, 22.0, "我 不 知 道"),  # spaced characters
                utt("agent", 23.0, 25.0, "你问我,我问谁"),  # ASCII comma, no spaces
                utt("caller", 26.0, 27.0, "我不知道"),  # the caller may say it
            ]
        }
    )
    flags = [f for f in analyze(t, ZH, CFG).flags if f.kind == "forbidden_phrase"]
    assert [(f.detail["phrase"], f.t, f.speaker) for f in flags] == [
        ("我不知道", 20.0, "agent"),
        ("你问我，我问谁", 23.0, "agent"),
    ]


def test_forbidden_phrase_split_by_a_short_pause_still_counts() -> None:
    t = Transcript(
        utterances=[
            utt("agent", 0.0, 1.0, "您好"),
            utt("agent", 2.0, 3.0, "不行 就是"),
            utt("agent", 3.8, 4.5, "不行"),
        ]
    )
    assert "forbidden_phrase" in kinds(t)


def test_missing_and_late_greeting() -> None:
    no_greeting = Transcript(utterances=[utt("agent", 0.5, 2.0, "说 吧"), utt("caller", 3.0, 4.0, "好")])
    assert "no_greeting" in kinds(no_greeting)
    assert "no_courtesy" in kinds(no_greeting)
    late = Transcript(utterances=[utt("agent", 12.0, 14.0, "您好")])
    result = analyze(late, ZH, CFG)
    (flag,) = [f for f in result.flags if f.kind == "late_greeting"]
    assert flag.t == 12.0


def test_agent_hanging_up_first_is_a_flag() -> None:
    assert "agent_hung_up_first" in kinds(GOOD_CALL, hangup_by="agent")
    assert "agent_hung_up_first" not in kinds(GOOD_CALL, hangup_by="caller")
    assert "agent_hung_up_first" not in kinds(GOOD_CALL, hangup_by=None)


def test_long_silence_with_start_and_length() -> None:
    t = Transcript(utterances=[utt("agent", 0.0, 2.0, "您好"), utt("caller", 11.0, 12.0, "喂 在 吗")])
    (flag,) = [f for f in analyze(t, ZH, CFG).flags if f.kind == "long_silence"]
    assert (flag.t, flag.detail["seconds"]) == (2.0, 9.0)
    short = Transcript(utterances=[utt("agent", 0.0, 2.0, "您好"), utt("caller", 9.0, 10.0, "嗯")])
    assert "long_silence" not in kinds(short)


def test_talk_over_names_who_interrupted() -> None:
    t = Transcript(
        utterances=[utt("caller", 0.0, 4.0, "我 要 投诉 你们"), utt("agent", 2.5, 5.0, "您好 您 听 我 说")]
    )
    (flag,) = [f for f in analyze(t, ZH, CFG).flags if f.kind == "talk_over"]
    assert (flag.t, flag.speaker, flag.detail["seconds"]) == (2.5, "agent", 1.5)
    brief = Transcript(utterances=[utt("caller", 0.0, 4.0, "我 要 投诉"), utt("agent", 3.5, 5.0, "您好")])
    assert "talk_over" not in kinds(brief)


def test_talk_ratio() -> None:
    m = analyze(GOOD_CALL, ZH, CFG).metrics
    assert (m["agent_talk_s"], m["caller_talk_s"]) == (8.0, 3.5)
    assert m["agent_share"] == pytest.approx(8.0 / 11.5, abs=1e-3)
    assert m["agent_caller_ratio"] == pytest.approx(8.0 / 3.5, abs=1e-3)


def test_english_lists() -> None:
    en = phrase_lists(POLICY, "en-US")
    t = Transcript(
        utterances=[
            utt("agent", 0.5, 2.0, "Hello, thank you for calling."),
            utt("agent", 5.0, 6.0, "Well, I don't know."),
        ]
    )
    result = analyze(t, en, CFG)
    assert [f.detail["phrase"] for f in result.flags if f.kind == "forbidden_phrase"] == ["I don't know"]
    assert "hello" in result.metrics["courtesy_found"]


def test_text_transcript_parsing_and_errors() -> None:
    t = parse_text("[00:00.5] agent: 您好，请问有什么可以帮您？\n\n[01:02.0] caller: 我不知道\n")
    assert [(u.speaker, u.start) for u in t.utterances] == [("agent", 0.5), ("caller", 62.0)]
    with pytest.raises(ValueError, match=r"x.txt:2: expected '\[mm:ss.s\] agent\|caller: text'"):
        parse_text("[00:00.5] agent: 您好\nagent says hi\n", "x.txt")


def test_cli_analyze_prints_flags_as_json(tmp_path: Path) -> None:
    from ivr.cli.main import build_app

    path = tmp_path / "call.txt"
    path.write_text(
        "[00:00.5] agent: 喂，您好\n[00:03.0] caller: 查一下\n[00:05.0] agent: 我不清楚\n", encoding="utf-8"
    )
    out = CliRunner().invoke(
        build_app(), ["qa", "analyze", str(path), "--language", "zh", "--hangup-by", "agent"]
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert [(f["kind"], f.get("detail", {}).get("phrase")) for f in data["flags"]] == [
        ("forbidden_phrase", "喂"),
        ("forbidden_phrase", "我不清楚"),
        ("agent_hung_up_first", None),
    ]
    js = tmp_path / "call.transcript.json"
    js.write_text(GOOD_CALL.to_json(), encoding="utf-8")
    assert json.loads(CliRunner().invoke(build_app(), ["qa", "analyze", str(js)]).stdout)["flags"] == []
    missing = CliRunner().invoke(build_app(), ["qa", "analyze", str(tmp_path / "nope.json")])
    assert missing.exit_code == 1 and "nope.json: cannot read transcript" in missing.output


def _stored_call(conn: redis.Redis, tmp_path: Path, call_id: str, start: datetime, t: Transcript) -> None:
    js, txt = tmp_path / f"{call_id}.transcript.json", tmp_path / f"{call_id}.transcript.txt"
    save_transcript(t, js, txt)
    conn.zadd(keys.CALLS_INDEX, {call_id: start.timestamp()})
    conn.hset(
        keys.call(call_id),
        mapping={
            keys.CALL_TRANSCRIPT: json.dumps({"json": str(js)}),
            keys.CALL_HANGUP_BY: json.dumps("agent"),
        },
    )


def test_store_and_rerun_after_a_list_changes(redis_url: str, tmp_path: Path) -> None:
    conn = redis.Redis.from_url(redis_url)
    policy = tmp_path / "policy"
    policy.mkdir()
    for name in ("forbidden-phrases-zh.txt", "courtesy-phrases-zh.txt", "greeting-phrases-zh.txt"):
        (policy / name).write_text((POLICY / name).read_text(encoding="utf-8"), encoding="utf-8")
    settings = load_settings(qa_policy_dir=policy)
    now = datetime(2026, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=8)))
    _stored_call(conn, tmp_path, "old", now - timedelta(days=10), GOOD_CALL)
    _stored_call(conn, tmp_path, "new", now, GOOD_CALL)
    conn.zadd(keys.CALLS_INDEX, {"no-transcript": now.timestamp()})

    first = analyse_and_store(conn, settings, "new", GOOD_CALL)
    assert first.kinds() == ["agent_hung_up_first"]  # hangup_by taken from the call record
    (policy / "forbidden-phrases-zh.txt").write_text("处理好\n", encoding="utf-8")

    report = rerun(conn, settings, now - timedelta(days=1))
    assert report.analysed == ["new"] and report.without_transcript == ["no-transcript"]
    stored = json.loads(conn.hget(keys.call("new"), keys.CALL_QA) or "{}")
    assert [f["kind"] for f in stored["flags"]] == ["forbidden_phrase", "agent_hung_up_first"]
    assert stored["flags"][0]["t"] == pytest.approx(11.0 + 3 * 3.0 / 8)
    assert set(stored["lists"]) == {"forbidden", "courtesy", "greeting"}
    assert conn.hget(keys.call("old"), keys.CALL_QA) is None  # before --since: untouched


def test_cli_rerun(redis_url: str, tmp_path: Path) -> None:
    from ivr.cli.main import build_app

    conn = redis.Redis.from_url(redis_url)
    _stored_call(
        conn, tmp_path, "r1", datetime(2026, 3, 5, 9, 0, tzinfo=timezone(timedelta(hours=8))), GOOD_CALL
    )
    env = {"IVR_REDIS_URL": redis_url, "IVR_TIMEZONE": "Asia/Shanghai"}
    out = CliRunner().invoke(build_app(), ["qa", "rerun", "--since", "2026-03-05"], env=env)
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout.strip().splitlines()[-1])["analysed"] == 1
    assert json.loads(conn.hget(keys.call("r1"), keys.CALL_QA) or "{}")["metrics"]["hangup_by"] == "agent"
    later = CliRunner().invoke(build_app(), ["qa", "rerun", "--since", "2026-03-05T09:00:01"], env=env)
    assert json.loads(later.stdout.strip().splitlines()[-1])["analysed"] == 0
    bad = CliRunner().invoke(build_app(), ["qa", "rerun", "--since", "last week"], env=env)
    assert bad.exit_code == 2 and "not an ISO date" in bad.output
