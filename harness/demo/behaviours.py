"""What the live demo's callers do: every branch of hotline.yaml, English, invalid keys, silence,
abandoning while queued, booking a callback, answering the survey.

Keys are pressed while the right menu listens (harness.timeline walks the flow and adds up the
prompt lengths). A caller who reached an agent keeps pressing a survey score every few seconds: the
survey only starts when the agent hangs up, and keys other than the callback key ("1") do nothing in
the queue, so one of the presses lands in the survey. Survey scores are 2-5 for that reason.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from harness.scenarios import Audio, AwaitHangup, Dtmf, Hangup, Step, Wait

SURVEY_PRESSES = 12  # every SURVEY_GAP_MS: covers a queue wait, the talk and the survey prompt
SURVEY_GAP_MS = 4000


@dataclass(frozen=True)
class Timings:
    """Milliseconds from the INVITE until a menu listens (harness.timeline.ms_until_menu)."""

    main_menu: int
    language_offer: int
    voicemail_closed: int
    schedule_check: int  # the `hours` node (business hours) is reached


@dataclass(frozen=True)
class Behaviour:
    name: str
    weight: int
    story: str  # what the caller does, for the per-call line


BEHAVIOURS = (
    Behaviour("enquiry", 4, "1 enquiry"),
    Behaviour("repair", 4, "2 repair, speaks"),
    Behaviour("complaint", 2, "3 complaint"),
    Behaviour("operator", 1, "0 operator"),
    Behaviour("english", 2, "9 English, 1"),
    Behaviour("invalid", 1, "7 invalid, 2"),
    Behaviour("silent", 1, "silence"),
    Behaviour("abandon", 2, "2, gives up"),
    Behaviour("callback", 3, "0, books callback"),
    Behaviour("after_hours", 0, "after hours, message"),  # placed once, by the override flip
)
BY_NAME = {b.name: b for b in BEHAVIOURS}
if len(BY_NAME) != len(BEHAVIOURS):
    raise ValueError("duplicate behaviour name")  # pragma: no cover - a typo in the table above


def pick(rng: random.Random) -> Behaviour:
    return rng.choices(BEHAVIOURS, weights=[b.weight for b in BEHAVIOURS])[0]


def survey(score: str) -> list[Step]:
    presses: list[Step] = []
    for _ in range(SURVEY_PRESSES):
        presses += [Wait(SURVEY_GAP_MS), Dtmf(score)]
    return [*presses, AwaitHangup(30000)]


def steps(behaviour: str, t: Timings, rng: random.Random, speech: Path) -> list[Step]:
    """The SIPp steps of one caller; `speech` is what they say (8 kHz mu-law): looped while a repair
    caller talks, the message after the tone for the after-hours caller."""
    at_menu = Wait(t.main_menu + 1200)
    score = rng.choice("5554432")
    if behaviour == "enquiry":
        return [at_menu, Dtmf("1"), *survey(score)]
    if behaviour == "repair":
        return [at_menu, Dtmf("2"), Audio(speech, loops=-1), *survey(score)]
    if behaviour == "complaint":
        return [at_menu, Dtmf("3"), *survey(rng.choice("223"))]
    if behaviour == "operator":
        return [at_menu, Dtmf("0"), *survey(score)]
    if behaviour == "english":
        return [Wait(t.language_offer + 800), Dtmf("9"), Wait(t.main_menu - t.language_offer + 2500), Dtmf("1"),
                *survey(score)]
    if behaviour == "invalid":
        return [at_menu, Dtmf("7"), Wait(6000), Dtmf("2"), *survey(score)]
    if behaviour == "silent":
        return [AwaitHangup(90000)]
    if behaviour == "abandon":
        return [at_menu, Dtmf("2"), Wait(rng.randint(6000, 20000)), Hangup()]
    if behaviour == "callback":
        # Operator (its intro is short), in the queue the callback key, then "1" again to confirm the
        # number read back (the timings of tests/e2e/test_queue_callbacks.py).
        return [at_menu, Dtmf("0"), Wait(8000), Dtmf("1"), Wait(5000), Dtmf("1"), AwaitHangup(40000)]
    if behaviour == "after_hours":
        return [Audio(speech), AwaitHangup(90000)]
    raise ValueError(f"unknown caller behaviour {behaviour!r}")


def caller_number(rng: random.Random) -> str:
    """A mobile number the callback numbering plan accepts (1[3-9] and nine digits)."""
    return f"13{rng.randint(5, 9)}{rng.randint(0, 99999999):08d}"
