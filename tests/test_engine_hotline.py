"""The shipped hotline flow (ivr/flows/hotline.yaml) on a scripted channel, against the real
schedules.yaml: the policy's greeting, menu, after-hours voicemail and silent-line handling."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from harness.scripted_channel import HANGUP, ScriptedChannel, during_play
from ivr.callflow.store import FlowStore
from ivr.clock import FixedClock
from ivr.engine.engine import FlowEngine
from ivr.engine.recorder import MemoryRecorder
from ivr.prompts import prompt_file
from ivr.schedule import load_schedules
from tests.test_engine_calls import CLOSED, OPEN, no_redis

REPO_FLOWS = Path(__file__).parent.parent / "ivr" / "flows"

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def prompts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prompts")


async def hotline_call(
    tmp_path: Path, prompts_dir: Path, now: datetime, script: list[str], **channel: object
) -> tuple[str, ScriptedChannel, MemoryRecorder]:
    store = FlowStore(REPO_FLOWS)
    assert store.reload("hotline").ok, store.last_errors("hotline")
    engine = FlowEngine(store, load_schedules(REPO_FLOWS / "schedules.yaml"), FixedClock(now), no_redis,
                        prompts_dir, tmp_path / "recordings", MemoryRecorder)
    handler_flow = store.get("hotline")
    assert handler_flow is not None
    ch, rec = ScriptedChannel(script, **channel), MemoryRecorder()  # type: ignore[arg-type]
    return await engine.run(handler_flow, ch, rec), ch, rec


async def test_greeting_then_repair_to_the_hotline_queue(tmp_path: Path, prompts_dir: Path) -> None:
    outcome, ch, rec = await hotline_call(tmp_path, prompts_dir, OPEN, ["", "2", "4"])  # 4: the survey
    assert outcome == "queued"
    greeting = str(prompt_file("您好，这里是星海科技客服热线，请问有什么可以帮您？", "zh-CN", prompts_dir))
    assert ch.played()[0] == greeting
    assert rec.path() == ["greeting", "choose_language", "incident_check", "hours", "main_menu", "repair",
                          "repair_intro", "agent_queue", "survey", "goodbye"]
    assert rec.fields["category"] == "repair" and ch.execs("Queue") == [("support", "c", "", "", "300")]
    assert rec.fields["survey"]["score"] == 4


async def test_complaints_queue_with_priority_in_english(tmp_path: Path, prompts_dir: Path) -> None:
    outcome, ch, rec = await hotline_call(tmp_path, prompts_dir, OPEN, [during_play("9"), "3", "5"])
    assert outcome == "queued" and rec.fields["language"] == "en-US"
    assert ch.variables["QUEUE_PRIO"] == "5" and rec.fields["category"] == "complaint"


async def test_after_hours_leave_a_message(tmp_path: Path, prompts_dir: Path) -> None:
    outcome, ch, rec = await hotline_call(tmp_path, prompts_dir, CLOSED, [""],
                                          exec_sets={"Record": {"RECORD_STATUS": "SILENCE"}})
    assert outcome == "voicemail"
    assert rec.path()[3:] == ["hours", "after_hours", "voicemail", "goodbye"]
    assert ch.execs("Record")[0][1:] == ("5", "120", "k")


async def test_silent_line_is_asked_to_call_again(tmp_path: Path, prompts_dir: Path) -> None:
    outcome, ch, rec = await hotline_call(tmp_path, prompts_dir, OPEN, ["", "", "", ""])
    assert outcome == "hangup" and rec.path()[-1] == "silent_line"
    policy = "对不起，我听不到您的声音……请您稍后换一部电话再打来好吗？"
    assert ch.played()[-1] == str(prompt_file(policy, "zh-CN", prompts_dir))


@pytest.mark.parametrize(("script", "reason"), [
    (["", "2", HANGUP], "hangup"),  # the caller hangs up at the survey question (most callers do)
    (["", "2", "", ""], "no_input"),
    (["", "2", "8", HANGUP], "hangup"),  # an invalid key, then gone during the second try
])
async def test_every_call_that_reaches_the_survey_has_a_result(
    tmp_path: Path, prompts_dir: Path, script: list[str], reason: str
) -> None:
    outcome, _, rec = await hotline_call(tmp_path, prompts_dir, OPEN, script)
    assert outcome == "queued" and rec.path()[-1 if reason == "hangup" else -2] == "survey"
    assert rec.fields["survey"] == {"score": None, "scale": 5, "reason": reason, "node": "survey"}
    assert rec.kinds("survey")[-1]["reason"] == reason
