"""The callback key in a live queue on the scripted channel: the number is read back digit by digit and
confirmed, or another one keyed in; every number goes through queues.yaml's numbering plan; a refused
number is said and its reason recorded; no key or a wrong key is retried a bounded number of times,
then the caller keeps waiting. Real Redis (the callback store) and real prompt synthesis."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis

from harness.scripted_channel import HANGUP, ScriptedChannel
from ivr import keys
from ivr.callflow.nodes import build_node_registry
from ivr.callflow.store import FlowStore
from ivr.clock import FixedClock
from ivr.engine.context import ivr_prompts_synthesizer
from ivr.engine.engine import FlowEngine
from ivr.engine.queue_wait import QueueRuntime
from ivr.engine.recorder import MemoryRecorder
from ivr.engine.runners import build_runner_registry
from ivr.queueing.callbacks import CallbackStore
from ivr.queueing.config import load_queue_config
from ivr.queueing.passes import QueuePasses
from ivr.schedule import load_schedules
from ivr.settings import REPO_ROOT

pytestmark = pytest.mark.timeout(90)
FLOWS = REPO_ROOT / "ivr" / "flows"
CFG = load_queue_config(FLOWS / "queues.yaml")
SCHEDULES = load_schedules(FLOWS / "schedules.yaml")
AFTERNOON = datetime(2026, 3, 2, 14, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # open, outside the peak
FLOW = textwrap.dedent("""\
    name: cbq
    description: a live support queue and nothing else
    default_language: LANG
    languages: [zh-CN, en-US]
    start: q
    prompts: {}
    nodes:
      q: {type: queue, queue: support, timeout: 600, otherwise: bye}
      bye: {type: hangup}
    """)
IN_QUEUE_KEY_1 = {"QUEUESTATUS": "", "CONTEXT": "ivr-queue-exit", "EXTEN": "1"}  # the callback key in Queue()
STAFFED = {"QUEUE_MEMBER(support,logged)": "1", "QUEUE_MEMBER(support,free)": "0"}  # no overflow on arrival


@pytest.fixture(scope="module")
def prompts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prompts")


@pytest.fixture
async def r(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


class Run:
    def __init__(self, ch: ScriptedChannel, rec: MemoryRecorder, outcome: str, heard: list[str]) -> None:
        self.ch, self.rec, self.outcome, self.heard = ch, rec, outcome, heard


async def run(tmp_path: Path, prompts_dir: Path, r: aioredis.Redis, script: list[str], caller: str,
              language: str = "zh-CN") -> Run:
    (tmp_path / "cbq.yaml").write_text(FLOW.replace("LANG", language), encoding="utf-8")
    store = FlowStore(tmp_path, build_node_registry(), lambda: list(SCHEDULES))
    assert store.reload("cbq").ok
    heard: list[str] = []
    real = ivr_prompts_synthesizer(prompts_dir)

    async def synthesize(text: str, lang: str) -> Path:  # the real synthesis; the test reads what was said
        heard.append(text)
        return await real(text, lang)

    async def redis() -> aioredis.Redis:
        return r

    runners = build_runner_registry(QueueRuntime(CFG, QueuePasses(None)))
    engine = FlowEngine(store, SCHEDULES, FixedClock(AFTERNOON), redis, prompts_dir, tmp_path / "rec",
                        MemoryRecorder, synthesize=synthesize, runners=runners)
    env = {"uniqueid": "1700000000.5", "callerid": caller, "dnid": "4000", "channel": "PJSIP/caller-1"}
    ch = ScriptedChannel(script, env=env, variables=STAFFED, exec_sets={"Queue": IN_QUEUE_KEY_1})
    rec = MemoryRecorder()
    flow = store.get("cbq")
    assert flow is not None
    outcome = await engine.run(flow, ch, rec)
    return Run(ch, rec, outcome, heard)


async def stored_numbers(r: aioredis.Redis) -> list[str]:
    store = CallbackStore(r)
    ids = [i.decode() for i in await r.zrange(keys.callback_queue("support"), 0, -1)]
    return [(await store.get(i)).number for i in ids]


def confirm_text(number_spoken: str) -> str:
    assert CFG.callback_texts is not None
    return CFG.callback_texts.say("confirm", "zh-CN", number=number_spoken, confirm_key="1", other_key="2")


def text(key: str) -> str:
    assert CFG.callback_texts is not None
    return CFG.callback_texts.say(key, "zh-CN")  # type: ignore[arg-type]


async def test_the_caller_id_is_read_back_and_confirmed(tmp_path: Path, prompts_dir: Path, r: aioredis.Redis) -> None:
    got = await run(tmp_path, prompts_dir, r, ["1"], "+86 139-1234-5678")
    assert got.outcome == "callback"
    assert confirm_text("1 3 9, 1 2 3 4, 5 6 7 8") in got.heard
    assert got.heard[-1] == text("booked")
    assert await stored_numbers(r) == ["13912345678"]
    booked = got.rec.fields["callback"]
    assert booked["via"] == "key" and booked["callback_number"] == "139****5678"  # masked on the record
    get_data = [c for c in got.ch.commands if c[0] == "get_data"]
    assert [(c[2], c[3]) for c in get_data] == [(6000, 1)]  # input_timeout_s, one key


async def test_an_international_caller_id_is_refused_said_and_another_number_keyed(
        tmp_path: Path, prompts_dir: Path, r: aioredis.Redis) -> None:
    got = await run(tmp_path, prompts_dir, r, ["13812345678", "1"], "+447700900123")
    assert got.outcome == "callback"
    refused = got.rec.kinds("callback_number_refused")
    assert [(e["reason"], e["source"]) for e in refused] == [("international", "caller_id")]
    assert got.rec.fields["callback_number_refused"]["reason"] == "international"
    assert "7700900123" not in str(got.rec.events)  # the raw number is on no event
    assert CFG.callback_texts is not None
    refused_text = CFG.callback_texts.say("refused", "zh-CN", number="4 4 7 7, 0 0 9 0, 0 1 2 3")
    assert got.heard[:3] == [refused_text, text("enter"), confirm_text("1 3 8, 1 2 3 4, 5 6 7 8")]
    assert await stored_numbers(r) == ["13812345678"]
    assert [c[3] for c in got.ch.commands if c[0] == "get_data"] == [20, 1]  # a number, then the confirm key


@pytest.mark.parametrize(("caller", "said"), [("anonymous", "no_number"), ("", "no_number"), ("110", "refused")])
async def test_no_usable_caller_id_asks_for_a_number(tmp_path: Path, prompts_dir: Path, r: aioredis.Redis,
                                                     caller: str, said: str) -> None:
    got = await run(tmp_path, prompts_dir, r, ["0755 8888 1234", "1"], caller)
    assert got.outcome == "callback"
    assert got.heard[0] == text("no_number") or got.heard[0].startswith("对不起，我们无法回电到1 1 0")
    assert await stored_numbers(r) == ["075588881234"]
    if said == "refused":
        assert got.rec.kinds("callback_number_refused")[0]["reason"] == "emergency"


async def test_other_number_refused_keyed_then_no_key_ends_in_keep_waiting(
        tmp_path: Path, prompts_dir: Path, r: aioredis.Redis) -> None:
    # 2 = another number; 120 (emergency) refused; nothing keyed; a wrong key at the confirm -> 3 tries used
    script = ["2", "120", "", "13812345678", "9", HANGUP]
    got = await run(tmp_path, prompts_dir, r, script, "13912345678")
    assert got.outcome != "callback"
    assert await stored_numbers(r) == []  # nothing booked
    refused = got.rec.kinds("callback_number_refused")
    assert [(e["reason"], e["source"], e["callback_number"]) for e in refused] == [("emergency", "keyed", "*20")]
    assert text("keep_waiting") in got.heard and text("invalid") in got.heard
    assert got.rec.kinds("callback_refused")[0]["reason"] == "not_confirmed"
    assert len(got.ch.execs("Queue")) == 2  # back in the queue after the dialogue; the caller hangs up there


async def test_a_wrong_key_is_retried_then_confirmed_in_english(
        tmp_path: Path, prompts_dir: Path, r: aioredis.Redis) -> None:
    got = await run(tmp_path, prompts_dir, r, ["7", "", "1"], "13912345678", language="en-US")
    assert got.outcome == "callback"
    assert CFG.callback_texts is not None
    assert got.heard.count(CFG.callback_texts.say("invalid", "en-US")) == 2
    assert got.heard[-1] == CFG.callback_texts.say("booked", "en-US")
    assert [e["key"] for e in got.rec.kinds("callback_confirm")] == ["7", None, "1"]


async def test_a_second_booking_from_the_same_number_is_a_duplicate(
        tmp_path: Path, prompts_dir: Path, r: aioredis.Redis) -> None:
    first = await run(tmp_path, prompts_dir, r, ["1"], "13912345678")
    again = await run(tmp_path, prompts_dir, r, ["1"], "+8613912345678")
    assert (first.outcome, again.outcome) == ("callback", "callback")
    assert again.rec.fields["callback"]["duplicate"] is True and again.heard[-1] == text("duplicate")
    assert await stored_numbers(r) == ["13912345678"]
