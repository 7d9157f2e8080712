"""The live demo's day: business hours compressed into minutes, and when callers arrive.

One demo minute is one business hour: the day runs 09:00-18:00 in nine minutes, then starts over.
The rates (calls per business hour, i.e. per demo minute) follow a customer-service day: a morning
ramp, the 10:00 peak that is more than the three agents can take (so queues overflow into
callbacks), a quiet lunch hour, a second peak at 14:00-16:00 and a calm evening. Arrivals are a
Poisson process with that rate, seeded, so a run is repeatable.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, time, timedelta

DAY_START_HOUR = 9
DAY_HOURS = 9
SECONDS_PER_HOUR = 60.0  # demo seconds per business hour
DAY_SECONDS = DAY_HOURS * SECONDS_PER_HOUR
# Calls per business hour (= per demo minute), from 09:00 to 17:00.
HOURLY_RATE = (7.0, 16.0, 8.0, 3.0, 5.0, 14.0, 10.0, 6.0, 4.0)
LUNCH_HOUR = 12  # the hour in which the demo shows after-hours once


def demo_time(elapsed_s: float) -> time:
    """The business-day time of `elapsed_s` demo seconds since the start (the day loops)."""
    minutes = (elapsed_s % DAY_SECONDS) / SECONDS_PER_HOUR * 60
    return time(DAY_START_HOUR + int(minutes // 60), int(minutes % 60), int(minutes * 60 % 60))


def demo_datetime(elapsed_s: float, monday: datetime) -> datetime:
    """`demo_time` on `monday` (a tz-aware Monday midnight), for schedule checks such as the peak."""
    t = demo_time(elapsed_s)
    return monday + timedelta(hours=t.hour, minutes=t.minute, seconds=t.second)


def rate_per_s(elapsed_s: float) -> float:
    """Arrival rate (calls per demo second) at `elapsed_s`."""
    hour = int((elapsed_s % DAY_SECONDS) // SECONDS_PER_HOUR)
    return HOURLY_RATE[hour] / SECONDS_PER_HOUR


def arrivals(seed: int = 11, start_s: float = 0.0) -> Iterator[float]:
    """Arrival times (demo seconds) of a Poisson process whose rate follows the day (thinning)."""
    rng = random.Random(seed)
    top = max(HOURLY_RATE) / SECONDS_PER_HOUR
    t = start_s
    while True:
        t += rng.expovariate(top)
        if rng.random() < rate_per_s(t) / top:
            yield t


def expected_calls(seconds: float) -> float:
    """How many calls the curve brings in the first `seconds` (for the summary and tests)."""
    total, t, step = 0.0, 0.0, 1.0
    while t < seconds:
        total += rate_per_s(t) * min(step, seconds - t)
        t += step
    return total
