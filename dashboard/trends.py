"""Trends over the day: the wallboard state sampled once a minute into Redis, drawn as SVG.

Sampling what the wallboard shows (rather than recomputing from call records) keeps the chart
identical to what supervisors saw at the time, including waiting callers and staffed agents.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from dashboard.livestate import Board
from dashboard.svgchart import line_chart
from ivr import keys

log = logging.getLogger(__name__)


def seconds_of_day(now: datetime) -> int:
    return now.hour * 3600 + now.minute * 60 + now.second


async def record_sample(redis: Redis, board: Board, now: datetime, ttl_s: int) -> None:
    """Appends the board to the day's samples; the day's key lives `ttl_s` (keys.dashboard_trend_ttl_s)."""
    point = {"t": seconds_of_day(now), "queues": {
        q.name: {"waiting": q.waiting, "available": q.agents["available"], "sl": q.service_level_pct,
                 "abandoned": q.abandoned} for q in board.queues}}
    key = keys.dashboard_trend(now.date().isoformat())
    pipe = redis.pipeline(transaction=False)
    pipe.rpush(key, json.dumps(point))
    pipe.expire(key, ttl_s)
    await pipe.execute()


async def read_samples(redis: Redis, day: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in await redis.lrange(keys.dashboard_trend(day), 0, -1)]


def charts(samples: list[dict[str, Any]], queue: str, now: datetime) -> str:
    """Two charts for one queue: callers waiting vs agents available, and % answered within 3 rings."""
    x_range = (7 * 3600.0, max(20 * 3600.0, float(seconds_of_day(now))))
    waiting = [(float(s["t"]), float(s["queues"][queue]["waiting"])) for s in samples if queue in s["queues"]]
    avail = [(float(s["t"]), float(s["queues"][queue]["available"])) for s in samples if queue in s["queues"]]
    sl = [(float(s["t"]), float(s["queues"][queue]["sl"])) for s in samples
          if queue in s["queues"] and s["queues"][queue]["sl"] is not None]
    return (line_chart({"waiting": waiting, "agents free": avail}, x_range=x_range,
                       title=f"{queue}: callers waiting / agents available")
            + line_chart({"≤3 rings": sl}, x_range=x_range, y_max=100, unit="%",
                         title=f"{queue}: % answered within 3 rings"))
