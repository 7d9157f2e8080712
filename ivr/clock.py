"""Injectable clock: business hours, callbacks and tests all ask a Clock, never datetime.now().

Every clock returns tz-aware datetimes so comparisons across time zones are exact.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ivr.settings import Settings

# Epoch seconds on the real clock (time.time in production). A Clock is what business hours see, and
# IVR_FAKE_NOW or a test may fix it; what Asterisk and the AMI listener share with us runs on real
# time whatever the Clock says: a caller's place in the queue, event times, the day of the counters.
WallTime = Callable[[], float]


class ClockError(ValueError):
    """A clock was configured with a bad time zone or a naive/unparsable datetime."""


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, tz-aware."""
        ...


def zone(tz: str) -> ZoneInfo:
    """ZoneInfo for a name, with an error that names the bad value."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ClockError(f"unknown time zone {tz!r}") from exc


def _aware(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ClockError(f"datetime {dt.isoformat()} has no time zone; give an offset or tzinfo")
    return dt


class SystemClock:
    """The real wall clock, expressed in `tz`."""

    def __init__(self, tz: str = "Asia/Shanghai") -> None:
        self.tz = zone(tz)

    def now(self) -> datetime:
        return datetime.now(self.tz)


class FixedClock:
    """Always the same instant (tests, after-hours demos)."""

    def __init__(self, dt: datetime) -> None:
        self._dt = _aware(dt)

    def now(self) -> datetime:
        return self._dt


class MutableClock:
    """A clock tests move by hand."""

    def __init__(self, dt: datetime) -> None:
        self._dt = _aware(dt)

    def now(self) -> datetime:
        return self._dt

    def set(self, dt: datetime) -> None:
        self._dt = _aware(dt)

    def advance(self, seconds: float) -> None:
        self._dt = self._dt + timedelta(seconds=seconds)


def parse_fake_now(value: str, tz: str) -> datetime:
    """ISO datetime; without an offset it is read in `tz` (what an admin typing a local time means)."""
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ClockError(
            f"IVR_FAKE_NOW={value!r} is not an ISO datetime (e.g. 2026-03-02T20:00:00+08:00)"
        ) from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone(tz))
    return dt


def clock_from_settings(settings: Settings) -> Clock:
    """FixedClock when Settings.fake_now is set, else the system clock in Settings.timezone."""
    if settings.fake_now:
        return FixedClock(parse_fake_now(settings.fake_now, settings.timezone))
    return SystemClock(settings.timezone)
