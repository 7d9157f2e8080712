"""The engine on a scripted channel: menus, retries, languages, schedules, incidents, hand-offs.

Prompts are really synthesised (espeak-ng + sox via ivr.prompts) into a per-module directory.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis

from harness.scripted_channel import ScriptedChannel, during_play
from ivr import keys
from ivr.callflow.nodes import build_node_registry
from ivr.callflow.store import FlowStore
from ivr.clock import FixedClock
from ivr.engine.engine import FlowEngine
from ivr.engine.recorder import MemoryRecorder
from ivr.prompts import prompt_file
from ivr.schedule import Schedule, load_schedules
from ivr.state.incident import render_statement, set_incident

FIXTURES = Path(__file__).parent / "flows"
SCHEDULES_FILE = Path(__file__).parent.parent / "ivr" / "flows" / "schedules.yaml"
SHANGHAI = ZoneInfo("Asia/Shanghai")
OPEN = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)  # Monday 10:00
CLOSED = datetime(2026, 3, 2, 20, 0, tzinfo=SHANGHAI)  # Monday 20:00
HOLIDAY = datetime(2026, 5, 1, 10, 0, tzinfo=SHANGHAI)  # Labour Day (example holiday in schedules.yaml)

pytestmark = pytest.mark.timeout(60)

RedisGetter = Callable[[], Awaitable[aioredis.Redis | None]]


async def no_redis() -> aioredis.Redis | None:
    return None


@pytest.fixture(scope="module")
def prompts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prompts")


def make_engine(
    tmp_path: Path,
    prompts_dir: Path,
    now: datetime = OPEN,
    *,
    redis_getter: RedisGetter = no_redis,
    schedules: dict[str, Schedule] | None = None,
    flows_dir: Path = FIXTURES,
    max_visits: int = 200,
) -> FlowEngine:
    store = FlowStore(flows_dir, build_node_registry(), lambda: ["business"])
    for name in ("basic", "loopy"):
        if (flows_dir / f"{name}.yaml").exists():
            assert store.reload(name).ok
    return FlowEngine(
        store,
        load_schedules(SCHEDULES_FILE) if schedules is None else schedules,
        FixedClock(now),
        redis_getter,
        prompts_dir,
        tmp_path / "recordings",
        MemoryRecorder,
        max_visits=max_visits,
    )


async def call(
    engine: FlowEngine, script: list[str], name: str = "basic", **channel: Any
) -> tuple[str, ScriptedChannel, MemoryRecorder]:
    flow = engine.store.get(name)
    assert flow is not None
    ch, rec = ScriptedChannel(script, **channel), MemoryRecorder()
    outcome = await engine.run(flow, ch, rec)
    assert rec.finished and rec.fields["outcome"] == outcome
    return outcome, ch, rec


def said(prompts_dir: Path, text: str, language: str = "zh-CN") -> str:
    return str(prompt_file(text, language, prompts_dir))


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_menu_branch_by_dtmf_to_queue(tmp_path: Path, prompts_dir: Path) -> None:
    engine = make_engine(tmp_path, prompts_dir)
    outcome, ch, rec = await call(engine, ["", "1"])
    assert outcome == "queued"
    assert rec.path() == ["welcome", "choose_language", "notice", "hours", "main", "tag_sales", "agents"]
    assert [e["type"] for e in rec.kinds("node")][-2:] == ["set", "queue"]
    assert [(e["node"], e["digits"]) for e in rec.kinds("dtmf")] == [("main", "1")]
    flow = engine.store.get("basic")
    assert flow is not None
    assert (
        rec.fields.items()
        >= {
            "category": "sales",
            "queue": "hotline",
            "schedule_status": "open",
            "incident_played": False,
            "flow": "basic",
            "flow_version": flow.version,
            "language": "zh-CN",
            "call_id": "1700000000.1",
            "caller": "13900000000",
            "called": "4000",
        }.items()
    )
    assert ch.execs("Queue") == [("hotline", "", "", "", "60")]
    assert ch.variables["QUEUE_PRIO"] == "3" and ch.variables["VIP"] == "1"
    assert ch.variables["CDR(userfield)"] == "sales"
    assert (ch.variables["IVR_DONE"], ch.variables["IVR_OUTCOME"]) == ("1", "queued")
    assert ch.commands[0] == ("answer",)
    menu_prompt = said(prompts_dir, "销售请按1，前台请按2，外线请按3，人工请按0。")
    assert ("get_data", menu_prompt, 4000, 1) in ch.commands
    size = await asyncio.to_thread(lambda: Path(menu_prompt + ".wav").stat().st_size)
    assert size > 1000  # really synthesised


async def test_invalid_digit_is_retried(tmp_path: Path, prompts_dir: Path) -> None:
    engine = make_engine(tmp_path, prompts_dir)
    outcome, ch, rec = await call(engine, ["", "7", "2"], exec_sets={"Dial": {"DIALSTATUS": "ANSWER"}})
    assert outcome == "transferred"
    assert [(e["digits"], e["valid"], e["attempt"]) for e in rec.kinds("dtmf")] == [
        ("7", False, 1),
        ("2", True, 2),
    ]
    assert ch.played().count(said(prompts_dir, "输入有误。")) == 1
    assert ch.execs("Dial") == [("PJSIP/100", "20")]
    assert rec.fields["transfer"] == "PJSIP/100"
    assert ch.variables["IVR_DONE"] == "1"


async def test_silence_exhausts_retries_then_the_silent_line_prompt(
    tmp_path: Path, prompts_dir: Path
) -> None:
    engine = make_engine(tmp_path, prompts_dir)
    outcome, ch, rec = await call(engine, ["", "", "", ""])
    assert outcome == "hangup"
    assert rec.path()[-2:] == ["main", "silent_line"]
    assert len(rec.kinds("no_input")) == 4  # language offer once, main menu three times (retries: 2)
    assert ch.played().count(said(prompts_dir, "请按键选择。")) == 2  # not after the last try
    assert ch.played()[-1] == said(prompts_dir, "对不起，我听不到您的声音……请您稍后换一部电话再打来好吗？")
    # IVR_DONE is set before the hangup, while the channel still takes commands
    assert ch.commands[-3:] == [
        ("set_variable", "IVR_OUTCOME", "hangup"),
        ("set_variable", "IVR_DONE", "1"),
        ("hangup",),
    ]


async def test_wrong_keys_exhausted_go_to_a_person_not_the_silent_line(
    tmp_path: Path, prompts_dir: Path
) -> None:
    engine = make_engine(tmp_path, prompts_dir)
    outcome, _, rec = await call(engine, ["", "7", "", "8"])
    assert outcome == "queued"
    assert rec.path()[-2:] == ["main", "agents"]
    assert rec.kinds("menu_exhausted") == [
        {"t": rec.kinds("menu_exhausted")[0]["t"], "kind": "menu_exhausted", "node": "main", "silent": False}
    ]


async def test_star_goes_back_to_the_menu(tmp_path: Path, prompts_dir: Path) -> None:
    engine = make_engine(tmp_path, prompts_dir)
    outcome, _, rec = await call(engine, ["", "*", "0"])
    assert outcome == "queued" and rec.path()[-4:] == ["main", "back", "main", "agents"]


async def test_typeahead_and_language_switch(tmp_path: Path, prompts_dir: Path) -> None:
    engine = make_engine(tmp_path, prompts_dir)
    outcome, ch, rec = await call(engine, [during_play("9"), "0"])
    assert outcome == "queued"
    assert rec.path()[:4] == ["welcome", "choose_language", "english", "notice"]
    # the 9 pressed during the greeting answered the language menu: its prompt never played
    assert said(prompts_dir, "For English, press 9.") not in ch.played()
    assert ("stream_file", said(prompts_dir, "您好，欢迎致电测试热线。"), "0123456789*#") in ch.commands
    assert ch.variables["CHANNEL(language)"] == "en"
    assert rec.fields["language"] == "en-US"
    assert (
        "get_data",
        said(prompts_dir, "Sales 1, desk 2, outside 3, agent 0.", "en-US"),
        4000,
        1,
    ) in ch.commands
    assert rec.kinds("language")[0]["previous"] == "zh-CN"


@pytest.mark.parametrize(
    ("now", "status", "node", "prompt"),
    [
        (CLOSED, "closed", "closed_msg", "现在是非工作时间。"),
        (HOLIDAY, "holiday", "holiday_msg", "节假日休息。"),
    ],
)
async def test_schedule_closed_and_holiday_lead_to_voicemail(
    tmp_path: Path, prompts_dir: Path, now: datetime, status: str, node: str, prompt: str
) -> None:
    engine = make_engine(tmp_path, prompts_dir, now)
    outcome, ch, rec = await call(engine, [""], exec_sets={"Record": {"RECORD_STATUS": "SILENCE"}})
    assert outcome == "voicemail"
    assert rec.path()[3:] == ["hours", node, "voicemail", "goodbye"]
    assert rec.fields["schedule_status"] == status
    assert rec.kinds("schedule")[0] | {"t": 0} == {
        "t": 0,
        "kind": "schedule",
        "node": "hours",
        "schedule": "business",
        "status": status,
    }
    assert said(prompts_dir, prompt) in ch.played()
    wav = tmp_path / "recordings" / "voicemail" / f"{now:%Y/%m/%d}" / "1700000000.1.wav"
    assert ch.execs("Record") == [(str(wav), "3", "60", "k")]
    assert wav.parent.is_dir() and rec.fields["voicemail"] == str(wav)
    assert ch.variables["IVR_OUTCOME"] == "voicemail" and ch.commands[-1] == ("hangup",)


async def test_schedule_override_in_redis_wins(
    tmp_path: Path, prompts_dir: Path, redis_client: aioredis.Redis
) -> None:
    await redis_client.set(keys.schedule_override("business"), json.dumps("open"))

    async def getter() -> aioredis.Redis | None:
        return redis_client

    engine = make_engine(tmp_path, prompts_dir, CLOSED, redis_getter=getter)
    outcome, _, rec = await call(engine, ["", "0"])
    assert outcome == "queued" and rec.fields["schedule_status"] == "open"


@pytest.mark.parametrize(("script", "language"), [([""], "zh-CN"), ([during_play("9")], "en-US")])
async def test_incident_statement_in_the_callers_language(
    tmp_path: Path, prompts_dir: Path, redis_client: aioredis.Redis, script: list[str], language: str
) -> None:
    incident = await set_incident(
        redis_client, {"zh-CN": "宽带服务", "en-US": "broadband service"}, "今天18:00"
    )

    async def getter() -> aioredis.Redis | None:
        return redis_client

    engine = make_engine(tmp_path, prompts_dir, redis_getter=getter)
    outcome, ch, rec = await call(engine, [*script, "0"])
    assert outcome == "queued"
    statement = said(prompts_dir, render_statement(incident, language), language)
    assert ("stream_file", statement, "") in ch.commands
    assert rec.fields["incident_played"] is True
    assert rec.kinds("incident")[0]["played"] is True


async def test_queue_timeout_branches_to_voicemail(tmp_path: Path, prompts_dir: Path) -> None:
    engine = make_engine(tmp_path, prompts_dir)
    outcome, _, rec = await call(
        engine,
        ["", "0"],
        exec_sets={"Queue": {"QUEUESTATUS": "TIMEOUT"}, "Record": {"RECORD_STATUS": "SUCCESS"}},
    )
    assert outcome == "voicemail"
    assert rec.path()[-4:] == ["agents", "busy_msg", "voicemail", "goodbye"]
    assert rec.kinds("queue_result")[0]["status"] == "TIMEOUT"


async def test_unmapped_queue_status_takes_otherwise(tmp_path: Path, prompts_dir: Path) -> None:
    engine = make_engine(tmp_path, prompts_dir)
    outcome, _, rec = await call(engine, ["", "0"], exec_sets={"Queue": {"QUEUESTATUS": "FULL"}})
    assert outcome == "hangup" and rec.path()[-2:] == ["agents", "goodbye"]


async def test_external_transfer_through_the_trunk(tmp_path: Path, prompts_dir: Path) -> None:
    engine = make_engine(tmp_path, prompts_dir)
    outcome, ch, rec = await call(
        engine,
        ["", "3"],
        exec_sets={"Dial": {"DIALSTATUS": "CHANUNAVAIL"}, "Record": {"RECORD_STATUS": "ERROR"}},
    )
    assert ch.execs("Dial") == [("PJSIP/13800138000@carrier", "30")]
    assert rec.path()[-4:] == ["outside", "busy_msg", "voicemail", "goodbye"]
    # Record failed: no message was left, so the call is not counted as a voicemail
    assert outcome == "voicemail_failed" and rec.fields["voicemail"] is None
    assert rec.fields["voicemail_error"]["reason"] == "record_error"
