"""The live demo's pure parts: the compressed day, the callers' scripts, the per-call line and the
summary (harness/demo/curve.py, behaviours.py, report.py), and the /proc scan that finds what it left."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from harness.demo import curve
from harness.demo.agents import AGENTS
from harness.demo.behaviours import BEHAVIOURS, Timings, caller_number, steps
from harness.demo.processes import Processes, session_of
from harness.demo.report import WIDTH, line, summarize
from harness.scenarios import Audio, AwaitHangup, Dtmf, Hangup, Wait
from ivr.queueing.config import load_queue_config
from ivr.settings import REPO_ROOT

TIMINGS = Timings(main_menu=14000, language_offer=6000, voicemail_closed=20000, schedule_check=9000)


@pytest.mark.timeout(10)
def test_one_demo_minute_is_one_business_hour_and_the_day_loops() -> None:
    assert curve.demo_time(0) == time(9, 0)
    assert curve.demo_time(90) == time(10, 30)
    assert curve.demo_time(curve.DAY_SECONDS - 1) == time(17, 59)
    assert curve.demo_time(0.5) == time(9, 0, 30)  # one demo second is one business minute
    assert curve.demo_time(curve.DAY_SECONDS + 60) == time(10, 0)
    monday = datetime(2026, 11, 23, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert curve.demo_datetime(150, monday) == monday.replace(hour=11, minute=30)


@pytest.mark.timeout(10)
def test_the_peak_brings_more_calls_than_three_agents_can_take() -> None:
    peak = curve.rate_per_s(60) * 60  # calls per demo minute at 10:00
    assert peak == max(curve.HOURLY_RATE) and peak > 2 * curve.rate_per_s(180) * 60  # vs the lunch hour
    # Each agent is busy for at least its talk time plus wrap-up per call: 3 agents take < peak calls/min.
    cfg = load_queue_config(REPO_ROOT / "ivr" / "flows" / "queues.yaml")
    per_minute = sum(60 / (a.talk_s + cfg.queues["support"].wrapup_s) for a in AGENTS)
    assert per_minute < peak


@pytest.mark.timeout(10)
def test_arrivals_follow_the_curve_and_repeat_with_the_seed() -> None:
    gen = curve.arrivals(seed=3)
    first = [next(gen) for _ in range(400)]
    assert first == sorted(first) and first[:5] == [t for t, _ in zip(curve.arrivals(seed=3), range(5), strict=False)]
    day = [t for t in first if t < curve.DAY_SECONDS]
    in_peak = sum(60 <= t < 120 for t in day)
    at_lunch = sum(180 <= t < 240 for t in day)
    assert in_peak > 2 * at_lunch
    assert abs(len(day) - curve.expected_calls(curve.DAY_SECONDS)) < 0.35 * curve.expected_calls(curve.DAY_SECONDS)


@pytest.mark.timeout(10)
def test_every_behaviour_has_a_script_and_callers_are_dialable_mobiles(tmp_path: Path) -> None:
    rng = random.Random(1)
    speech = tmp_path / "s.wav"
    keys_pressed = set()
    for b in BEHAVIOURS:
        script = steps(b.name, TIMINGS, rng, speech)
        assert script and isinstance(script[-1], AwaitHangup | Hangup), b.name
        keys_pressed |= {s.digits for s in script if isinstance(s, Dtmf)}
    assert {"1", "2", "3", "0", "9", "7"} <= keys_pressed  # every menu branch, English, an invalid key
    assert not any(isinstance(s, Dtmf) for s in steps("silent", TIMINGS, rng, speech))
    assert isinstance(steps("after_hours", TIMINGS, rng, speech)[0], Audio)
    enquiry = steps("enquiry", TIMINGS, rng, speech)
    assert enquiry[0] == Wait(TIMINGS.main_menu + 1200) and enquiry[1] == Dtmf("1")
    # survey presses never use the callback key: it would take the caller out of the queue
    assert all(s.digits != "1" for s in enquiry[2:] if isinstance(s, Dtmf))
    with pytest.raises(ValueError, match="unknown caller behaviour"):
        steps("dance", TIMINGS, rng, speech)
    assert all(len(n) == 11 and n[:2] == "13" for n in (caller_number(rng) for _ in range(50)))


def _record(**fields: object) -> dict[str, object]:
    return {"caller": "13912345678", "events": [], **fields}


@pytest.mark.timeout(10)
def test_the_line_per_call_is_short_and_masks_the_caller() -> None:
    answered = _record(outcome="queued", agent="1002", survey={"score": 5},
                       answer_timing={"rings": 2}, answered_within_3_rings=True)
    text = line("10:42", answered, "2 repair, speaks")
    assert text.startswith("10:42 139****5678 2 repair, speaks") and "answered survey 5" in text
    assert text.endswith("1002 2 rings") and "13912345678" not in text and len(text) <= WIDTH
    gave_up = line("10:43", _record(outcome="queued"), "2, gives up")
    assert "abandoned in queue" in gave_up
    closed = line("12:00", _record(outcome="voicemail", events=[{"kind": "node", "node": "after_hours"}]), "x")
    assert "voicemail (after hours)" in closed
    worst = _record(outcome="callback_duplicate", overflow={"rule": "peak"}, agent="1003",
                    answer_timing={"rings": 3}, survey={"score": 4})
    assert len(line("17:59", worst, "a very long story that goes on and on")) <= WIDTH


@pytest.mark.timeout(10)
def test_the_summary_counts_what_the_records_say() -> None:
    recs = [
        _record(outcome="queued", agent="1001", answered_within_3_rings=True, recording={},
                transcription={"state": "done"}, qa={"flags": [{"kind": "agent_hung_up_first", "t": 9}]}),
        _record(outcome="queued", agent="1003", answered_within_3_rings=False, recording={},
                transcription={"state": "queued"}, qa={"flags": []}),
        _record(outcome="queued"),
        _record(outcome="callback", overflow={"rule": "peak-long-wait"}, callback={"duplicate": False},
                events=[{"kind": "callback_attempt", "outcome": "answered"}]),
        _record(outcome="callback_duplicate", callback={"duplicate": True}),
    ]
    s = summarize(recs)
    assert s.as_dict() == {"calls": 5, "answered": 2, "within_3_rings": 1, "abandoned": 1, "overflowed": 1,
                           "callbacks_booked": 1, "callbacks_done": 1, "recorded": 2, "transcribed": 1,
                           "flagged": 1}
    assert s.lines()[0] == "calls 5, answered 2, within 3 rings 1 (50%)"


@pytest.mark.timeout(30)
def test_stop_all_ends_children_and_their_grandchildren(tmp_path: Path) -> None:
    procs = Processes()
    # A child that forks a grandchild which ignores SIGTERM: only SIGKILL of the group ends it.
    code = ("import os, signal, time\n"
            "if os.fork() == 0:\n    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n    time.sleep(60)\n"
            "time.sleep(60)\n")
    child = procs.spawn("sleeper", [sys.executable, "-c", code], log=tmp_path / "log")
    for _ in range(50):
        if len(procs.leftovers()) == 2:
            break
        subprocess.run(["sleep", "0.1"], check=True)
    assert session_of(child.proc.pid) == child.proc.pid and len(procs.leftovers()) == 2
    procs.stop_all(timeout=1)
    assert procs.leftovers() == []


@pytest.mark.timeout(30)
def test_a_dead_service_is_noticed_and_finished_callers_are_forgotten(tmp_path: Path) -> None:
    procs = Processes()
    service = procs.spawn("ivr serve", [sys.executable, "-c", "raise SystemExit(3)"])
    caller = procs.spawn("caller 13900000000", [sys.executable, "-c", "pass"])
    service.proc.wait(timeout=10)
    caller.proc.wait(timeout=10)
    assert procs.exited(("ivr serve",)) == [service]
    procs.reap("caller ")
    assert procs.children == [service]  # a dead service stays visible; a finished caller is gone
    procs.stop_all(timeout=1)
