from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr import keys
from ivr.clock import ClockError, FixedClock, MutableClock, SystemClock, clock_from_settings
from ivr.schedule import (
    ScheduleError,
    current_status,
    is_open,
    load_schedules,
    next_open,
    schedule_status,
)
from ivr.settings import load_settings

pytestmark = pytest.mark.timeout(20)
SH = ZoneInfo("Asia/Shanghai")
SCHEDULES = Path(__file__).resolve().parent.parent / "ivr" / "flows" / "schedules.yaml"


def at(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=SH)


@pytest.fixture(scope="module")
def schedules() -> dict:  # type: ignore[type-arg]
    return load_schedules(SCHEDULES)


def test_clocks() -> None:
    now = SystemClock("Asia/Shanghai").now()
    assert now.utcoffset() is not None and now.utcoffset().total_seconds() == 8 * 3600  # type: ignore[union-attr]
    fixed = FixedClock(at("2026-03-02T10:00"))
    assert fixed.now() == at("2026-03-02T10:00")
    clock = MutableClock(at("2026-03-02T10:00"))
    clock.advance(90)
    assert clock.now() == at("2026-03-02T10:01:30")
    clock.set(at("2027-01-01T00:00"))
    assert clock.now().year == 2027
    with pytest.raises(ClockError, match="no time zone"):
        FixedClock(datetime(2026, 1, 1))
    with pytest.raises(ClockError, match="Mars/Olympus"):
        SystemClock("Mars/Olympus")


def test_clock_from_settings() -> None:
    pinned = clock_from_settings(load_settings(fake_now="2026-03-02T20:00:00"))
    assert pinned.now() == at("2026-03-02T20:00")  # naive fake_now is read in Settings.timezone
    assert clock_from_settings(load_settings(fake_now="2026-03-02T12:00:00+00:00")).now() == at(
        "2026-03-02T20:00"
    )
    assert isinstance(clock_from_settings(load_settings(fake_now=None)), SystemClock)
    with pytest.raises(ClockError, match="not an ISO datetime"):
        clock_from_settings(load_settings(fake_now="tomorrow"))


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-03-02T09:00", "open"),  # Monday, opening minute
        ("2026-03-02T08:59", "closed"),
        ("2026-03-02T12:30", "closed"),  # lunch break
        ("2026-03-02T17:59", "open"),
        ("2026-03-02T18:00", "closed"),  # end is exclusive
        ("2026-03-07T10:00", "open"),  # Saturday
        ("2026-03-08T10:00", "closed"),  # Sunday
        ("2026-10-03T10:00", "holiday"),  # National Day (Saturday, otherwise open)
        ("2026-10-11T10:00", "open"),  # make-up working Sunday
        ("2026-12-31T10:00", "open"),  # holiday with its own short hours
        ("2026-12-31T14:00", "holiday"),
        ("2027-01-01T10:00", "holiday"),
    ],
)
def test_business_hours(schedules: dict, when: str, expected: str) -> None:  # type: ignore[type-arg]
    assert schedule_status(schedules["business"], at(when)) == expected


def test_callback_and_peak(schedules: dict) -> None:  # type: ignore[type-arg]
    assert not is_open(schedules["callback"], at("2026-03-02T13:30"))  # rest period: no callbacks
    assert is_open(schedules["callback"], at("2026-03-02T15:00"))
    assert is_open(schedules["peak"], at("2026-03-02T10:30"))
    assert not is_open(schedules["peak"], at("2026-03-07T10:30"))  # Saturday is no peak


def test_timezone_conversion_and_override(schedules: dict) -> None:  # type: ignore[type-arg]
    utc_0130 = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
    assert schedule_status(schedules["business"], utc_0130) == "open"
    assert schedule_status(schedules["business"], utc_0130, "closed") == "closed"
    assert schedule_status(schedules["business"], at("2026-03-08T10:00"), "open") == "open"


def test_next_open(schedules: dict) -> None:  # type: ignore[type-arg]
    biz = schedules["business"]
    assert next_open(biz, at("2026-03-02T10:00")) == at("2026-03-02T10:00")
    assert next_open(biz, at("2026-03-02T12:10")) == at("2026-03-02T13:00")
    assert next_open(biz, at("2026-03-07T18:30")) == at("2026-03-09T09:00")  # skips Sunday
    assert next_open(biz, at("2026-09-30T19:00")) == at("2026-10-08T09:00")  # skips National Day
    nxt = next_open(biz, datetime(2026, 3, 2, 5, 0, tzinfo=UTC))  # 13:00 Shanghai
    assert nxt == at("2026-03-02T13:00") and nxt.tzinfo is not None


def test_load_errors_name_file_schedule_field_line(tmp_path: Path) -> None:
    bad = tmp_path / "schedules.yaml"
    bad.write_text(
        "ok:\n"
        "  weekly: {mon: ['09:00-12:00']}\n"
        "broken:\n"
        "  timezone: Asia/Nowhere\n"
        "  weekly:\n"
        "    mon: ['09:00-25:00']\n"
        "    monday: ['09:00-10:00']\n"
        "  holidays:\n"
        "    - {date: 2026-13-01}\n"
        "  colour: blue\n",
        encoding="utf-8",
    )
    with pytest.raises(ScheduleError) as info:
        load_schedules(bad)
    msg = str(info.value)
    assert str(bad) in msg
    assert "line 4: schedule 'broken', field timezone" in msg
    assert "line 6: schedule 'broken', field weekly.mon" in msg and "25:00" in msg
    assert "line 7: schedule 'broken', field weekly.monday" in msg
    assert "line 9: schedule 'broken', field holidays.0" in msg
    assert "line 10: schedule 'broken', field colour" in msg
    assert "'ok'" not in msg
    assert len(info.value.issues) == 5


def test_overlap_and_double_dates_rejected(tmp_path: Path) -> None:
    overlap = tmp_path / "overlap.yaml"
    overlap.write_text("x:\n  weekly: {mon: ['09:00-12:00', '11:00-13:00']}\n", encoding="utf-8")
    with pytest.raises(ScheduleError, match=r"line 2: schedule 'x', field weekly\.mon.*overlap"):
        load_schedules(overlap)
    double = tmp_path / "double.yaml"
    double.write_text(
        "x:\n  weekly: {}\n"
        "  holidays: [{date: 2026-05-01}]\n  special: [{date: 2026-05-01, hours: ['09:00-10:00']}]\n",
        encoding="utf-8",
    )
    with pytest.raises(ScheduleError, match="both holiday and special: 2026-05-01"):
        load_schedules(double)


async def test_current_status_reads_override(schedules: dict, redis_url: str) -> None:  # type: ignore[type-arg]
    import redis.asyncio as aioredis

    clock = FixedClock(at("2026-03-08T10:00"))  # Sunday: closed by calendar
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert await current_status("business", schedules, clock, client) == "closed"
        await client.set(keys.schedule_override("business"), json.dumps("open"))
        assert await current_status("business", schedules, clock, client) == "open"
        await client.set(keys.schedule_override("business"), json.dumps("bogus"))
        assert await current_status("business", schedules, clock, client) == "closed"
        assert await current_status("business", schedules, clock, None) == "closed"
    finally:
        await client.aclose()


async def test_current_status_redis_down_follows_calendar(schedules: dict) -> None:  # type: ignore[type-arg]
    import redis.asyncio as aioredis

    from tests.support.components import free_port

    dead = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    try:
        clock = FixedClock(at("2026-03-02T10:00"))
        assert await current_status("business", schedules, clock, dead) == "open"
    finally:
        await dead.aclose()


async def test_current_status_slow_redis_times_out(schedules: dict) -> None:  # type: ignore[type-arg]
    """A server that accepts but never answers: the 0.3 s timeout applies, the calendar answers."""
    import asyncio
    import time

    import redis.asyncio as aioredis

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{port}/0")
    try:
        t0 = time.monotonic()
        status = await current_status("business", schedules, FixedClock(at("2026-03-08T10:00")), client)
        assert status == "closed"
        assert time.monotonic() - t0 < 1.5
    finally:
        server.close()
        await client.aclose()
