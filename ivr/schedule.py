"""Business hours: weekly windows, holidays, special dates and a manual override -> open/closed/holiday.

Schedules live in ivr/flows/schedules.yaml (admins edit it), one mapping per schedule name.
A holiday is closed all day unless it lists its own hours; a special date (e.g. a working
Sunday) replaces the weekday's windows. The manual override in Redis wins over the calendar.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

import redis.asyncio
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import YAMLError

from ivr import keys
from ivr.clock import Clock, ClockError, zone
from ivr.yamlpos import AdminFileError, YamlShapeError, line_of, load_admin_yaml

log = logging.getLogger(__name__)

Status = Literal["open", "closed", "holiday"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OVERRIDE_TIMEOUT = 0.3  # seconds: a slow Redis must not hold up the call
_SEARCH_DAYS = 400  # next_open looks a little over a year ahead, past any yearly holiday block


class ScheduleError(AdminFileError):
    """Every problem found in a schedules file, one per line of the message."""


def _parse_hhmm(text: str) -> time:
    hh, sep, mm = text.strip().partition(":")
    if not sep or not hh.isdigit() or not mm.isdigit() or len(mm) != 2:
        raise ValueError(f"{text!r} is not HH:MM")
    h, m = int(hh), int(mm)
    if (h, m) == (24, 0):
        return time.max  # "24:00" = end of day
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise ValueError(f"{text!r} is not a valid time of day")
    return time(h, m)


def _parse_windows(value: list[str]) -> list[tuple[time, time]]:
    windows: list[tuple[time, time]] = []
    for item in value:
        start_s, sep, end_s = str(item).partition("-")
        if not sep:
            raise ValueError(f"{item!r} is not a window like '09:00-12:00'")
        start, end = _parse_hhmm(start_s), _parse_hhmm(end_s)
        if start >= end:
            raise ValueError(f"{item!r}: start must be before end")
        windows.append((start, end))
    windows.sort()
    for (_, prev_end), (start, _) in itertools.pairwise(windows):
        if start < prev_end:
            raise ValueError(f"windows {value} overlap")
    return windows


Windows = list[str]
Day = date  # the models have a field called `date`, which shadows the type inside their bodies


def _check_windows(value: Windows) -> Windows:
    _parse_windows(value)
    return value


def _check_optional_windows(value: Windows | None) -> Windows | None:
    return value if value is None else _check_windows(value)


class Weekly(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mon: Windows = Field(default_factory=list)
    tue: Windows = Field(default_factory=list)
    wed: Windows = Field(default_factory=list)
    thu: Windows = Field(default_factory=list)
    fri: Windows = Field(default_factory=list)
    sat: Windows = Field(default_factory=list)
    sun: Windows = Field(default_factory=list)

    _v = field_validator(*WEEKDAYS)(_check_windows)


class Holiday(BaseModel):
    """One day, or a run of days `date`..`until` inclusive. Closed unless `hours` is given."""

    model_config = ConfigDict(extra="forbid")
    date: Day
    until: Day | None = None
    name: str | None = None
    hours: Windows | None = None

    _v = field_validator("hours")(_check_optional_windows)

    @model_validator(mode="after")
    def _range(self) -> Holiday:
        if self.until is not None and self.until < self.date:
            raise ValueError(f"until {self.until} is before date {self.date}")
        return self

    def days(self) -> list[Day]:
        last = self.until or self.date
        return [self.date + timedelta(days=i) for i in range((last - self.date).days + 1)]


class SpecialDate(BaseModel):
    """A date with its own hours, replacing the weekday's (e.g. a make-up working Sunday)."""

    model_config = ConfigDict(extra="forbid")
    date: Day
    name: str | None = None
    hours: Windows

    _v = field_validator("hours")(_check_windows)


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timezone: str = "Asia/Shanghai"
    weekly: Weekly
    holidays: list[Holiday] = Field(default_factory=list)
    special: list[SpecialDate] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            zone(v)
        except ClockError as exc:
            raise ValueError(str(exc)) from None
        return v

    @model_validator(mode="after")
    def _no_double_dates(self) -> Schedule:
        holiday_days = {d for h in self.holidays for d in h.days()}
        both = sorted(str(s.date) for s in self.special if s.date in holiday_days)
        if both:
            raise ValueError(f"dates both holiday and special: {', '.join(both)}")
        return self

    def day_plan(self, day: date) -> tuple[list[tuple[time, time]], bool]:
        """(windows, is_holiday) for a local date."""
        for s in self.special:
            if s.date == day:
                return _parse_windows(s.hours), False
        for h in self.holidays:
            if h.date <= day <= (h.until or h.date):
                return _parse_windows(h.hours or []), True
        return _parse_windows(getattr(self.weekly, WEEKDAYS[day.weekday()])), False


def schedule_status(schedule: Schedule, now: datetime, override: str | None = None) -> Status:
    """open/closed/holiday at `now` (tz-aware, converted to the schedule's zone); override wins."""
    if override is not None:
        if override not in ("open", "closed"):
            raise ValueError(f"override must be 'open' or 'closed', got {override!r}")
        return "open" if override == "open" else "closed"
    local = now.astimezone(zone(schedule.timezone))
    windows, holiday = schedule.day_plan(local.date())
    t = local.time().replace(tzinfo=None)
    if any(start <= t < end for start, end in windows):
        return "open"
    return "holiday" if holiday else "closed"


def is_open(schedule: Schedule, now: datetime) -> bool:
    return schedule_status(schedule, now) == "open"


def next_open(schedule: Schedule, now: datetime) -> datetime | None:
    """`now` if open, else the start of the next window (schedule's zone); None if none within a year."""
    tz = zone(schedule.timezone)
    local = now.astimezone(tz)
    if is_open(schedule, local):
        return local
    for offset in range(_SEARCH_DAYS):
        day = local.date() + timedelta(days=offset)
        for start, _end in schedule.day_plan(day)[0]:
            candidate = datetime.combine(day, start, tzinfo=tz)
            if candidate > local:
                return candidate
    return None


async def read_override(name: str, redis: redis.asyncio.Redis | None) -> str | None:
    """The manual override, or None when absent, invalid, or Redis is down/slow (never raises)."""
    if redis is None:
        return None
    try:
        raw = await asyncio.wait_for(redis.get(keys.schedule_override(name)), OVERRIDE_TIMEOUT)
        if raw is None:
            return None
        value = json.loads(raw)
    except Exception as exc:  # Redis down, timeout, garbage: the calendar still answers
        log.warning("schedule %s: override not read (%s); following the calendar", name, exc)
        return None
    if value not in ("open", "closed"):
        log.warning("schedule %s: ignoring override %r (want \"open\" or \"closed\")", name, value)
        return None
    return str(value)


async def current_status(
    name: str, schedules: dict[str, Schedule], clock: Clock, redis: redis.asyncio.Redis | None
) -> Status:
    """Status of schedule `name` now, honouring the Redis override when Redis answers in time."""
    if name not in schedules:
        raise KeyError(f"unknown schedule {name!r}; known: {', '.join(sorted(schedules))}")
    override = await read_override(name, redis)
    return schedule_status(schedules[name], clock.now(), override)


def _issues(name: str, body: Any, base_line: int, exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if isinstance(p, int | str))
        line = line_of(body, loc) or base_line
        field = ".".join(str(p) for p in loc) or "(schedule)"
        out.append(f"line {line}: schedule {name!r}, field {field}: {err['msg']}")
    return out


def _yaml() -> YAML:
    """Round-trip YAML (line numbers) that leaves dates as strings, so pydantic reports a bad
    date as a field error with its line instead of the parser failing on the whole file."""

    class _Constructor(RoundTripConstructor):
        pass

    # add_constructor copies the table for the subclass: ruamel's own stays untouched
    _Constructor.add_constructor("tag:yaml.org,2002:timestamp", RoundTripConstructor.construct_yaml_str)
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    return yaml


def load_schedules(path: Path) -> dict[str, Schedule]:
    """Parse and check a schedules file; ScheduleError lists every problem with its line."""
    try:
        data = load_admin_yaml(path.read_text(encoding="utf-8"), _yaml())
    except YamlShapeError as exc:
        raise ScheduleError(path, [f"line {exc.line}: {exc}"]) from None
    except (OSError, YAMLError, ValueError) as exc:
        raise ScheduleError(path, [f"cannot read: {exc}"]) from exc
    if not isinstance(data, dict):
        raise ScheduleError(path, ["line 1: top level must be a mapping of schedule name -> schedule"])
    result: dict[str, Schedule] = {}
    issues: list[str] = []
    for name, body in data.items():
        line = data.lc.key(name)[0] + 1  # type: ignore[attr-defined]  # ruamel CommentedMap
        if not isinstance(body, dict):
            issues.append(f"line {line}: schedule {name!r}: must be a mapping (timezone, weekly, ...)")
            continue
        try:
            result[str(name)] = Schedule.model_validate(body)
        except ValidationError as exc:
            issues.extend(_issues(str(name), body, line, exc))
    if issues:
        raise ScheduleError(path, issues)
    return result
