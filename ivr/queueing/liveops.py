"""Redis writes of the live queue state as plain values, applied in one MULTI/EXEC.

The reducer (ivr.queueing.live) only produces these; tests compare them and the listener applies
them, so a batch of updates from one AMI event lands all together or not at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis.asyncio

from ivr import keys
from ivr.queueing.overflow import OverflowDecision

HANDLE_TIMES_KEPT = 50


@dataclass(frozen=True)
class HSet:
    key: str
    field: str
    value: Any  # stored as JSON


@dataclass(frozen=True)
class HDel:
    key: str
    field: str


@dataclass(frozen=True)
class HIncr:
    key: str
    field: str
    amount: int = 1


@dataclass(frozen=True)
class HIncrFloat:
    key: str
    field: str
    amount: float


@dataclass(frozen=True)
class Del:
    key: str


@dataclass(frozen=True)
class PushCapped:
    """LPUSH then LTRIM: a list of the newest `keep` values."""

    key: str
    value: Any
    keep: int = HANDLE_TIMES_KEPT


@dataclass(frozen=True)
class Expire:
    key: str
    seconds: int


Op = HSet | HDel | HIncr | HIncrFloat | Del | PushCapped | Expire


def day_ops(queue: str, day: str, counters: dict[str, int], *,
            ttl_s: int = keys.DEFAULT_CALL_RECORD_TTL_S) -> list[Op]:
    """`ttl_s`: keys.call_record_ttl_s(settings); counters are kept as long as call records."""
    key = keys.queue_day(queue, day)
    ops: list[Op] = [HIncr(key, name, n) for name, n in counters.items()]
    return [*ops, Expire(key, ttl_s)]


def overflow_ops(decision: OverflowDecision, day: str, *, ttl_s: int = keys.DEFAULT_CALL_RECORD_TTL_S) -> list[Op]:
    """Counters of an overflow decision (the engine calls this; AMI does not know our rules)."""
    counters = {f"overflow:{decision.rule}": 1, f"overflow_reason:{decision.reason_code}": 1}
    return day_ops(decision.queue, day, counters, ttl_s=ttl_s)


def callback_ops(queue: str, day: str, what: str, *, ttl_s: int = keys.DEFAULT_CALL_RECORD_TTL_S) -> list[Op]:
    """`what`: requested, completed or failed."""
    if what not in ("requested", "completed", "failed"):
        raise ValueError(f"callback counter {what!r}: want requested, completed or failed")
    return day_ops(queue, day, {f"callbacks_{what}": 1}, ttl_s=ttl_s)


async def apply_ops(redis: redis.asyncio.Redis, ops: list[Op]) -> None:
    """All of `ops` in one MULTI/EXEC."""
    if not ops:
        return
    pipe = redis.pipeline(transaction=True)
    for op in ops:
        if isinstance(op, HSet):
            pipe.hset(op.key, op.field, json.dumps(op.value, ensure_ascii=False))
        elif isinstance(op, HDel):
            pipe.hdel(op.key, op.field)
        elif isinstance(op, HIncr):
            pipe.hincrby(op.key, op.field, op.amount)
        elif isinstance(op, HIncrFloat):
            pipe.hincrbyfloat(op.key, op.field, op.amount)
        elif isinstance(op, Del):
            pipe.delete(op.key)
        elif isinstance(op, PushCapped):
            pipe.lpush(op.key, json.dumps(op.value))
            pipe.ltrim(op.key, 0, op.keep - 1)
        else:
            pipe.expire(op.key, op.seconds)
    await pipe.execute()
