"""What the wallboard shows, read from Redis in one round trip per refresh.

The layout is the AMI listener's (ivr.queueing.live, keys queue_callers/queue_agents/queue_day)
and the callbacks' (keys.callback_queue).

Per queue: callers waiting and the longest wait, agents by state, today's counters (offered,
answered, answered within 3 rings, abandoned, overflow by reason), callbacks pending; plus whether
the `peak` schedule is open and the incident statement is on.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, computed_field
from redis.asyncio import Redis

from ivr import keys

AGENT_STATES = ("available", "ringing", "on_call", "paused")


class QueueView(BaseModel):
    """One queue on the board; also the documented shape of a queue in GET /api/queues."""

    model_config = ConfigDict(frozen=True)

    name: str
    title: str
    waiting: int
    longest_wait_s: float
    agents: dict[str, int]
    offered: int
    answered: int
    answered_in_time: int
    abandoned: int
    overflow: dict[str, int]
    callbacks_pending: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def service_level_pct(self) -> float | None:
        """Share of today's offered calls a person answered within 3 rings (None before any call)."""
        return None if self.offered == 0 else round(100.0 * self.answered_in_time / self.offered, 1)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def abandon_pct(self) -> float | None:
        return None if self.offered == 0 else round(100.0 * self.abandoned / self.offered, 1)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump()


@dataclass(frozen=True)
class Board:
    at: float
    queues: list[QueueView]
    peak: bool
    incident: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "peak": self.peak, "incident": self.incident,
                "queues": [q.to_json() for q in self.queues]}


def _int(v: Any) -> int:
    try:
        return int(json.loads(v)) if isinstance(v, str | bytes) else int(v or 0)
    except (TypeError, ValueError):
        return 0


def _agent_counts(raw: dict[str, str]) -> dict[str, int]:
    counts = dict.fromkeys(AGENT_STATES, 0)
    for value in raw.values():
        try:
            state = json.loads(value).get("state")
        except (ValueError, AttributeError):
            continue
        if state in counts:
            counts[state] += 1
    return counts


def _longest_wait(raw: dict[str, str], now: float) -> float:
    starts = []
    for value in raw.values():
        try:
            starts.append(float(json.loads(value)["since"]))
        except (ValueError, KeyError, TypeError):
            continue
    return float(int(max(0.0, now - min(starts)))) if starts else 0.0  # whole seconds: one push a second


def _queue_view(name: str, title: str, callers: dict[str, str], agents: dict[str, str],
                day: dict[str, str], callbacks: int, now: float) -> QueueView:
    # The engine counts each overflow by rule and by reason (ivr.queueing.live.overflow_ops).
    overflow = {k.removeprefix("overflow_reason:"): _int(v) for k, v in day.items()
                if k.startswith("overflow_reason:")}
    return QueueView(
        name=name, title=title, waiting=len(callers), longest_wait_s=_longest_wait(callers, now),
        agents=_agent_counts(agents), offered=_int(day.get("offered")), answered=_int(day.get("answered")),
        answered_in_time=_int(day.get("answered_in_time")), abandoned=_int(day.get("abandoned")),
        overflow=overflow, callbacks_pending=callbacks,
    )


async def read_board(redis: Redis, queues: dict[str, str], today: datetime, *, peak: bool) -> Board:
    """`queues`: name -> title (from queues.yaml); `today`: local now, picks the day's counters."""
    now = time.time()
    day = today.date().isoformat()
    pipe = redis.pipeline(transaction=False)
    for q in queues:
        pipe.hgetall(keys.queue_callers(q))
        pipe.hgetall(keys.queue_agents(q))
        pipe.hgetall(keys.queue_day(q, day))
        pipe.zcard(keys.callback_queue(q))
    pipe.get(keys.INCIDENT)
    res = await pipe.execute()
    views = [
        _queue_view(q, title, res[4 * i], res[4 * i + 1], res[4 * i + 2], int(res[4 * i + 3]), now)
        for i, (q, title) in enumerate(queues.items())
    ]
    incident = json.loads(res[-1]) if res[-1] else None
    return Board(at=now, queues=views, peak=peak,
                 incident=incident if incident and incident.get("on") else None)
