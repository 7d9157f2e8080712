"""`ivr demo` (`make demo`): a demo hotline with real calls flowing through it.

Starts a private Redis, the private Asterisk and the FastAGI service, gives three agents SIPp
phones that ring and answer, then places real SIP calls with SIPp and prints the path each call
took through ivr/flows/hotline.yaml (nodes, keys pressed, outcome), read back from its record.
The service clock is simulated so that business hours and after hours both show in one run.
"""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from harness.calls import call_record, caller_audio
from harness.local_redis import LocalRedis
from harness.ports import free_port
from harness.scenarios import Audio, AwaitHangup, Dtmf, Step, Wait
from harness.service_thread import ServiceThread
from harness.sipp import SippAgent, free_sip_port, place_calls
from harness.timeline import ms_until_menu
from ivr.asterisk.config import RuntimeOptions
from ivr.asterisk.process import AsteriskInstance
from ivr.clock import MutableClock
from ivr.engine.handoff import WAV_HEADER_BYTES
from ivr.settings import Settings, load_settings

console = Console()
TZ = ZoneInfo("Asia/Shanghai")
OPEN = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)     # a Monday morning
CLOSED = datetime(2026, 11, 22, 20, 0, tzinfo=TZ)   # a Sunday evening


@dataclass
class DemoCall:
    caller: str
    story: str
    steps: list[Step]


def _say(step: int, total: int, text: str) -> None:
    console.print(f"[bold cyan][demo {step}/{total}][/] {text}")


def _business_calls(settings: Settings) -> list[DemoCall]:
    menu = ms_until_menu(settings, "hotline", "main_menu")
    offer = ms_until_menu(settings, "hotline", "choose_language")
    return [
        DemoCall("13800000001", "presses 2 (repair); an agent answers", [Wait(menu + 1500), Dtmf("2"),
                                                                         AwaitHangup(60000)]),
        DemoCall("13800000002", "presses 3 (complaint); priority queue", [Wait(menu + 1500), Dtmf("3"),
                                                                          AwaitHangup(60000)]),
        DemoCall("13800000003", "presses 9 for English, then 1 (enquiry)",
                 [Wait(offer + 800), Dtmf("9"), Wait(menu - offer + 2500), Dtmf("1"), AwaitHangup(60000)]),
        DemoCall("13800000004", "presses 7 (not a choice), then 0 (operator)",
                 [Wait(menu + 1500), Dtmf("7"), Wait(6000), Dtmf("0"), AwaitHangup(60000)]),
    ]


def _run_calls(settings: Settings, calls: list[DemoCall]) -> None:
    target = f"127.0.0.1:{settings.sip_port}"
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(place_calls, target, "hotline", c.steps, [c.caller], timeout_s=120) for c in calls]
        for call, fut in zip(calls, futures, strict=True):
            res = fut.result()
            state = "[green]ok[/]" if res.ok else f"[red]SIPp failed ({res.returncode})[/]"
            console.print(f"   call from {call.caller} ended: {state}")


def _table(settings: Settings, calls: list[DemoCall], clock_label: dict[str, str]) -> Table:
    table = Table(title="Calls through ivr/flows/hotline.yaml (read back from Redis)", show_lines=True)
    for col in ("caller", "clock", "what the caller did", "path through the flow", "keys", "outcome"):
        table.add_column(col, overflow="fold")
    for c in calls:
        rec = call_record(settings.redis_url, c.caller)
        if rec is None:
            table.add_row(c.caller, clock_label[c.caller], c.story, "[red]no record[/]", "", "")
            continue
        path = " > ".join(e["node"] for e in rec["events"] if e["kind"] == "node")
        keys = " ".join(e["digits"] for e in rec["events"] if e["kind"] == "dtmf" and e.get("digits"))
        table.add_row(c.caller, clock_label[c.caller], c.story, path, keys, _outcome(rec))
    return table


def _outcome(rec: dict[str, Any]) -> str:
    parts = [str(rec.get("outcome", "?"))]
    if rec.get("agent"):
        rings = rec.get("answered_within_3_rings")
        parts.append(f"agent {rec['agent']}" + ("" if rings is None else f", within 3 rings: {rings}"))
    survey = rec.get("survey")
    if isinstance(survey, dict):
        parts.append(f"survey: {survey.get('score') or survey.get('reason')}")
    parts += _message(rec)
    return "; ".join(parts)


def _message(rec: dict[str, Any]) -> list[str]:
    """What became of a voicemail, checked against the file itself, not just the record's word."""
    error = rec.get("voicemail_error")
    if isinstance(error, dict):
        return [f"[red]message NOT saved ({error.get('reason')})[/]"]
    if rec.get("outcome") == "voicemail_empty":
        return ["no message left"]
    if not rec.get("voicemail"):
        return []
    path = Path(str(rec["voicemail"]))
    if path.is_file() and path.stat().st_size > WAV_HEADER_BYTES:
        return [f"message recorded ({path.stat().st_size} bytes)"]
    return [f"[red]message NOT saved (no file {path})[/]"]


def run_demo(workdir: Path | None = None) -> int:
    work = workdir or Path(tempfile.mkdtemp(prefix="hotline-demo-"))
    total = 6
    _say(1, total, "starting Redis")
    redis = LocalRedis(work / "redis")
    redis.start()
    base = load_settings()
    settings = load_settings(
        redis_url=redis.url, sip_port=free_sip_port(), ami_port=free_port(), agi_port=free_port(),
        state_dir=work, prompts_dir=base.prompts_path, ami_secret="demo-" + work.name,
    )
    agents = [SippAgent(a, ring_ms=ring, talk_ms=6000, workdir=work)
              for a, ring in (("1001", 2500), ("1002", 4000), ("1003", 3000))]
    clock = MutableClock(OPEN)
    service = ServiceThread(settings, clock)
    ast = AsteriskInstance(settings, work / "asterisk",
                           RuntimeOptions(agent_contacts={a.name: a.contact for a in agents}))
    try:
        _say(2, total, f"starting the private Asterisk ({ast.prefix.name}), SIP 127.0.0.1:{settings.sip_port}")
        ast.start()
        _say(3, total, f"starting the FastAGI server on agi://127.0.0.1:{settings.agi_port} and the AMI listener "
                       "(synthesizing prompts with espeak-ng on first run)")
        service.start()
        _say(4, total, "agents 1001, 1002, 1003 log in with SIPp phones (answer after 1-2 rings)")
        for a in agents:
            a.start()
        for queue, members in (("support", ("1001", "1002", "1003")), ("complaints", ("1003", "1001"))):
            for m in members:
                ast.cli(f"queue add member PJSIP/{m} to {queue} penalty 0 as {m} state_interface PJSIP/{m}")
        calls = _business_calls(settings)
        _say(5, total, f"placing {len(calls)} calls at once; clock: Monday 10:00 (open)")
        _run_calls(settings, calls)
        clock.set(CLOSED)
        late = DemoCall("13800000005", "calls on Sunday evening, leaves a message",
                        [Audio(caller_audio(work, ms_until_menu(settings, "hotline", "voicemail",
                                                                clock_open=False) / 1000 + 1.0)),
                         AwaitHangup(90000)])
        _say(6, total, "one call after hours; clock: Sunday 20:00 (closed)")
        _run_calls(settings, [late])
        labels = {c.caller: "Mon 10:00" for c in calls} | {late.caller: "Sun 20:00"}
        console.print(_table(settings, [*calls, late], labels))
        console.print(f"Runtime files (Asterisk logs, SIPp traces): {work}")
        return 0
    finally:
        for a in agents:
            a.stop()
        service.stop()
        ast.stop()
        redis.stop()
