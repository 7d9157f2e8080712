"""`ivr demo` (`make demo`): the whole hotline, live, until Ctrl-C (or for `--minutes N`).

Starts the stack (harness/demo/stack.py), prints the dashboard URL, the demo logins and the SIP
accounts, then runs a compressed business day (harness/demo/curve.py) of callers
(behaviours.py) against agents' phones (agents.py), one line per call as it ends (report.py).
Business hours: the schedules' manual override is set to open, whatever the hour; the peak schedule's
override follows the demo day; once, in the lunch hour, the override is flipped to closed for one
caller, who hears the after-hours prompt and leaves a message. Ctrl-C or SIGTERM: callers hung up,
every process stopped, the summary printed, exit 0.
"""

from __future__ import annotations

import signal
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo

from rich.console import Console

from harness.calls import caller_audio
from harness.demo.agents import customer_phone, phones, speech_file
from harness.demo.behaviours import Timings
from harness.demo.curve import LUNCH_HOUR, arrivals, demo_datetime, demo_time
from harness.demo.report import summarize
from harness.demo.stack import PRODUCT, SOFTPHONE_AGENT, Stack, StartError, log_tail, udp_port
from harness.demo.traffic import Traffic, all_records
from harness.sipp import SippAgent
from harness.timeline import ms_until_menu
from ivr.queueing.config import load_queue_config
from ivr.queueing.pbx import ring_cycle
from ivr.schedule import load_schedules, schedule_status
from ivr.settings import Settings

console = Console(highlight=False, soft_wrap=True)
CALLER_WORDS = "你好，我家的路由器坏了，上不了网，请帮我看一下。"
OVERRIDE_SCHEDULES = ("business", "callback")
BREAK_AGENT, BREAK_HOUR = "1003", 10


def say(text: str) -> None:
    console.print(text, markup=False)


def _this_monday(settings: Settings) -> datetime:
    now = datetime.now(ZoneInfo(settings.timezone))
    return (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)


class LiveDemo:
    def __init__(self, work: Path, minutes: float | None) -> None:
        self.work = work
        self.minutes = minutes
        self.stopping = threading.Event()
        self.agents: list[SippAgent] = []  # made in start(): their speech needs the policy dir
        self._phones: list[SippAgent] = []
        self.customer_port = udp_port()
        self.stack = Stack(work, {}, self.customer_port)
        self.traffic: Traffic | None = None
        self.after_hours_done = False
        self.peak: str | None = None
        self.on_break = False
        self.failed = False  # a part of the hotline died: the demo stops and exits 1

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping.set()

    # -- start
    def start(self) -> Settings:
        settings = self.stack.configure()
        say(f"[1/5] work dir {self.work} (logs, recordings, SIPp traces)")
        cfg = load_queue_config(settings.flows_dir / "queues.yaml")
        self.agents = phones(self.work, settings.qa_policy_dir, ring_cycle(cfg, settings))
        self.stack.agent_contacts.update({a.name: a.contact for a in self.agents})
        say("[2/5] starting redis-server and the private Asterisk")
        self.stack.start_redis()
        self.stack.add_users()
        for name in OVERRIDE_SCHEDULES:
            self.stack.set_override(name, "open")
        self.stack.start_asterisk()
        say("[3/5] starting ivr serve, ivr transcribe worker, ivr dashboard (first run: prompts are synthesized)")
        self.stack.start_product()
        say("[4/5] agents' phones: 1001 (1 ring), 1002 (2 rings, rude, hangs up first), 1003 (3 rings); "
            "they speak Chinese (espeak-ng)")
        customer = customer_phone(self.work, self.customer_port)
        for phone in [*self.agents, customer]:
            phone.start()
            if phone.pid is not None:
                self.stack.procs.adopt(phone.pid)
        self.stack.login_agents([a.name for a in self.agents] + [SOFTPHONE_AGENT])
        self._phones = [*self.agents, customer]
        return settings

    def banner(self, settings: Settings) -> None:
        logins = self.stack.logins
        assert logins is not None
        sip = f"127.0.0.1:{settings.sip_port}"
        for text in (
            "",
            f"dashboard:         http://127.0.0.1:{settings.dashboard_port}/",
            f"supervisor login:  {logins.supervisor[0]} {logins.supervisor[1]}",
            f"admin login:       {logins.admin[0]} {logins.admin[1]}",
            "                   (random, demo only: production refuses demo and default passwords)",
            f"call the hotline:  sip:hotline@{sip} (any softphone on this machine, no account)",
            f"agent account:     {SOFTPHONE_AGENT} password {logins.agent_secret} registrar {sip}",
            "                   (register a softphone as it: it rings for queue support, after 1001-1003)",
            "business hours:    manual override OPEN (schedules business and callback), whatever the hour;",
            "                   once, at demo 12:00, flipped to closed for one after-hours caller",
            "demo day:          09:00-18:00 in 9 minutes (1 minute = 1 hour), busiest at 10:00 and 14:00;",
            "                   overflow rules `during: peak` follow schedules.yaml's peak on that clock",
            "queues.yaml:       the work dir's copy: agent 1009 added, peak overflow at more than "
            "1 caller per agent",
            "",
        ):
            say(text)

    # -- run
    def run(self) -> None:
        settings = self.stack.settings
        assert settings is not None
        timings = Timings(ms_until_menu(settings, "hotline", "main_menu"),
                          ms_until_menu(settings, "hotline", "choose_language"),
                          ms_until_menu(settings, "hotline", "voicemail", clock_open=False),
                          ms_until_menu(settings, "hotline", "hours"))
        speech = speech_file(self.work / "speech" / "caller.wav", CALLER_WORDS)
        message = caller_audio(self.work / "speech", timings.voicemail_closed / 1000 + 1.0)
        self.traffic = Traffic(f"127.0.0.1:{settings.sip_port}", settings.redis_url, self.work, self.stack.procs,
                               timings, speech, say)
        peak = load_schedules(settings.flows_dir / "schedules.yaml")["peak"]
        monday = _this_monday(settings)
        say("[5/5] callers arrive (time = demo day; caller, what they did, outcome, agent, rings)")
        t0 = time.monotonic()
        upcoming = arrivals()
        next_at = next(upcoming)
        while not self.stopping.is_set():
            elapsed = time.monotonic() - t0
            if self.minutes is not None and elapsed >= self.minutes * 60:
                break
            clock = demo_time(elapsed).strftime("%H:%M")
            if dead := self.stack.procs.exited(PRODUCT):
                say(f"{clock} {dead[0].name} exited ({dead[0].proc.returncode}): {log_tail(dead[0])}")
                self.failed = True
                break
            self._peak(schedule_status(peak, demo_datetime(elapsed, monday)), clock)
            self._break(demo_time(elapsed).hour, clock)
            if demo_time(elapsed).hour == LUNCH_HOUR and not self.after_hours_done:
                self._after_hours(clock, timings, message)
                continue
            while next_at <= elapsed:
                self.traffic.arrive(clock)
                next_at = next(upcoming)
            self.traffic.poll(clock)
            self.stopping.wait(0.25)

    def _peak(self, status: str, clock: str) -> None:
        value = "open" if status == "open" else "closed"
        if value != self.peak:
            self.stack.set_override("peak", value)
            if self.peak is not None or value == "open":
                say(f"{clock} peak hours {'begin' if value == 'open' else 'end'} (override of schedule peak)")
            self.peak = value

    def _break(self, hour: int, clock: str) -> None:
        """Agent BREAK_AGENT is in a meeting in the busiest hour: two agents for the peak."""
        on_break = hour == BREAK_HOUR
        if on_break != self.on_break:
            self.stack.pause(BREAK_AGENT, "meeting" if on_break else None)
            say(f"{clock} agent {BREAK_AGENT} " + ("paused: meeting (the wallboard shows why)" if on_break
                                                   else "back from the meeting"))
            self.on_break = on_break

    def _after_hours(self, clock: str, timings: Timings, message: Path) -> None:
        """Close the hotline for one caller, wait until the flow has passed the schedule, reopen."""
        assert self.traffic is not None
        self.after_hours_done = True
        self.traffic.poll(clock)
        say(f"{clock} override -> CLOSED: the next caller hears the after-hours prompt")
        self.stack.set_override("business", "closed")
        self.traffic.arrive(clock, "after_hours", speech=message)
        self.stopping.wait(timings.schedule_check / 1000 + 1.5)  # its flow has passed `hours` by then
        self.stack.set_override("business", "open")
        say(f"{clock} override -> OPEN again")

    # -- stop
    def finish(self) -> int:
        if self.traffic is not None:
            self.traffic.stop()
        try:
            records = all_records(self.stack.settings.redis_url) if self.stack.settings else []
        except Exception as exc:  # Redis gone: still stop everything
            say(f"summary not read from Redis: {exc}")
            records = []
        for phone in self._phones:
            phone.stop()
        self.stack.stop()
        left = self.stack.procs.leftovers()
        say("")
        say("summary")
        for text in summarize(records).lines():
            say("  " + text)
        if self.traffic is not None and self.traffic.skipped:
            say(f"  arrivals not placed (at most {self.traffic.max_callers} callers on the line): "
                f"{self.traffic.skipped}")
        say(f"stopped every process the demo started; left over: {len(left)}" + (f" {left}" if left else ""))
        return 0 if not left and not self.failed else 1


def run_live(minutes: float | None = None, workdir: Path | None = None) -> int:
    work = workdir or Path(tempfile.mkdtemp(prefix="hotline-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    demo = LiveDemo(work, minutes)
    old = {s: signal.signal(s, demo.on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        settings = demo.start()
        demo.banner(settings)
        demo.run()
    except StartError as exc:
        say(f"the demo could not start: {exc}")
        demo.failed = True
    finally:
        code = demo.finish()
        for s, handler in old.items():
            signal.signal(s, handler)
    return code
