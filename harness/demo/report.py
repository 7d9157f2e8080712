"""What the live demo prints: one short line per call as it ends, and the summary at the end.

Both are read from the call records the product wrote (Redis), not from what the demo meant to do.
A line stays under 80 columns: time, the caller masked as the dashboard masks numbers, what the
caller did, the outcome, the agent and the rings it took.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from ivr.privacy.masking import mask_number

WIDTH = 79


def rings(rec: dict[str, Any]) -> int | None:
    timing = rec.get("answer_timing")
    return timing.get("rings") if isinstance(timing, dict) else None


def outcome(rec: dict[str, Any]) -> str:
    """The record's outcome, with what matters on top: overflow, callback, after hours."""
    # An answered call's outcome is "queued" (handed to the queue, which connected it): say answered.
    # A caller who hung up while queued has it too, and no agent: that is an abandoned call.
    raw = str(rec.get("outcome") or "?")
    out = ("answered" if rec.get("agent") else "abandoned in queue") if raw == "queued" else raw
    if isinstance(rec.get("overflow"), dict) and "overflow" not in out:
        out += "/overflow"
    if any(e.get("kind") == "node" and e.get("node") == "after_hours" for e in rec.get("events", [])):
        out += " (after hours)"
    survey = rec.get("survey")
    if isinstance(survey, dict) and survey.get("score"):
        out += f" survey {survey['score']}"
    return out


def line(clock: str, rec: dict[str, Any], story: str) -> str:
    """`10:42 139****0801 2 repair, speaks  answered survey 5  1001 1 ring`."""
    agent = str(rec.get("agent") or "")
    n = rings(rec)
    who = f"{agent} {n} ring{'s' if n != 1 else ''}" if agent and n else agent
    text = f"{clock} {mask_number(str(rec.get('caller', '?'))):<11} {story:<18.18} {outcome(rec):<26} {who}"
    return text.rstrip()[:WIDTH]


@dataclass
class Summary:
    calls: int = 0
    answered: int = 0
    within_3_rings: int = 0
    abandoned: int = 0
    overflowed: int = 0
    callbacks_booked: int = 0
    callbacks_done: int = 0
    recorded: int = 0
    transcribed: int = 0
    flagged: int = 0

    def lines(self) -> list[str]:
        share = f" ({100 * self.within_3_rings / self.answered:.0f}%)" if self.answered else ""
        return [
            f"calls {self.calls}, answered {self.answered}, within 3 rings {self.within_3_rings}{share}",
            f"abandoned {self.abandoned}, overflowed {self.overflowed}, "
            f"callbacks booked {self.callbacks_booked} / dialled and answered {self.callbacks_done}",
            f"recorded {self.recorded}, transcribed {self.transcribed}, QA-flagged {self.flagged}",
        ]

    def as_dict(self) -> dict[str, int]:
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}


ABANDONED = ("caller_hangup", "hangup", "abandoned", "queued")  # "queued" without an agent: hung up waiting


def summarize(records: Iterable[dict[str, Any]]) -> Summary:
    s = Summary()
    for rec in records:
        s.calls += 1
        if rec.get("agent"):
            s.answered += 1
            s.within_3_rings += bool(rec.get("answered_within_3_rings"))
        elif rec.get("outcome") in ABANDONED and not rec.get("callback"):
            s.abandoned += 1
        s.overflowed += isinstance(rec.get("overflow"), dict)
        cb = rec.get("callback")
        s.callbacks_booked += isinstance(cb, dict) and not cb.get("duplicate")
        s.callbacks_done += any(e.get("kind") == "callback_attempt" and e.get("outcome") == "answered"
                                for e in rec.get("events", []))
        s.recorded += "recording" in rec
        s.transcribed += isinstance(rec.get("transcription"), dict) and rec["transcription"].get("state") == "done"
        qa = rec.get("qa")
        s.flagged += isinstance(qa, dict) and bool(qa.get("flags"))
    return s
