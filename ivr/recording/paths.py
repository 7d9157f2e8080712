"""Where a call's recording lives and how MixMonitor is told to write it (a leaf: no Redis, no settings).

MixMonitor runs on the caller's (inbound) channel with the `r()` and `t()` options: the
receive feed is what the caller's phone sends (the caller's voice), the transmit feed is
what the caller hears (the agent). One file per speaker lets Vosk transcribe each side on
its own and QA see talk-over; the mixed file is for supervisors listening back.

    recordings/<yyyy>/<mm>/<dd>/<call_id>.wav          mixed
    recordings/<yyyy>/<mm>/<dd>/<call_id>-caller.wav   receive feed
    recordings/<yyyy>/<mm>/<dd>/<call_id>-agent.wav    transmit feed
    recordings/<yyyy>/<mm>/<dd>/<call_id>.transcript.json / .transcript.txt

The day is the call's start in the time zone of `started`, so a call belongs to one folder
and retention can age whole days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

# Asterisk's uniqueid is "<epoch>.<n>"; anything else that reaches a dialplan argument or a file
# name must not be able to carry a comma, a path separator or a shell metacharacter.
_CALL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
DAY_FORMAT = "%Y/%m/%d"  # the day folder below recordings_dir; also how the dialplan names the day
_DAY = re.compile(r"^(\d{4})/(\d{2})/(\d{2})$")


class RecordingError(ValueError):
    """A call id, a time or a path that cannot name a recording."""


@dataclass(frozen=True)
class RecordingPaths:
    caller: Path
    agent: Path
    dir: Path
    mixed: Path
    call_id: str

    @property
    def transcript_json(self) -> Path:
        return self.dir / f"{self.call_id}.transcript.json"

    @property
    def transcript_text(self) -> Path:
        return self.dir / f"{self.call_id}.transcript.txt"

    def to_record(self) -> dict[str, str]:
        return {
            "dir": str(self.dir),
            "caller": str(self.caller),
            "agent": str(self.agent),
            "mixed": str(self.mixed),
        }


def check_call_id(call_id: str) -> str:
    if not _CALL_ID.match(call_id) or ".." in call_id:
        raise RecordingError(
            f"call id {call_id!r} cannot name a recording: use letters, digits, '.', '-', '_' (max 128)"
        )
    return call_id


def is_day(day: str) -> bool:
    """`day` is written as DAY_FORMAT (YYYY/MM/DD)."""
    return _DAY.match(day) is not None


def started_on(day: str, tz: str) -> datetime:
    """Noon of a DAY_FORMAT day in the time zone `tz`: recording_paths only uses the date."""
    m = _DAY.match(day)
    if m is None:
        raise ValueError(f"day {day!r} is not {DAY_FORMAT}")
    return datetime(int(m[1]), int(m[2]), int(m[3]), 12, tzinfo=ZoneInfo(tz))


def recording_paths(recordings_dir: Path, call_id: str, started: datetime) -> RecordingPaths:
    """Paths of one call's recording; `started` must be tz-aware (the folder is its local day)."""
    check_call_id(call_id)
    if started.tzinfo is None or started.utcoffset() is None:
        raise RecordingError(f"call {call_id}: start time {started.isoformat()} has no time zone")
    day = Path(recordings_dir).resolve() / started.strftime(DAY_FORMAT)
    return RecordingPaths(
        caller=day / f"{call_id}-caller.wav",
        agent=day / f"{call_id}-agent.wav",
        dir=day,
        mixed=day / f"{call_id}.wav",
        call_id=call_id,
    )


def paths_from_record(call_id: str, value: dict[str, Any]) -> RecordingPaths:
    """RecordingPaths back from the call record's "recording" field."""
    try:
        return RecordingPaths(
            caller=Path(value["caller"]),
            agent=Path(value["agent"]),
            dir=Path(value["dir"]),
            mixed=Path(value.get("mixed") or value["caller"]),
            call_id=check_call_id(call_id),
        )
    except (KeyError, TypeError) as exc:
        raise RecordingError(f"call {call_id}: field 'recording' lacks {exc}") from exc


def mixmonitor_args(paths: RecordingPaths, *, bridged_only: bool = True) -> str:
    """The argument string of MixMonitor(): `<mixed>,b r(<caller>) t(<agent>)` without spaces.

    `b` records only while the caller is bridged to an agent (the conversation QA judges);
    both legs then start at the same instant, so their timestamps line up.
    """
    for p in (paths.mixed, paths.caller, paths.agent):
        text = str(p)
        if any(c in text for c in ",()|;$\"' \t\n"):
            raise RecordingError(f"recording path {text!r} has a character the dialplan would split on")
    opts = ("b" if bridged_only else "") + f"r({paths.caller})t({paths.agent})"
    return f"{paths.mixed},{opts}"
