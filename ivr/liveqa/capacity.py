"""How many calls one `ivr liveqa` process streams, and the Redis claim that makes it the only one.

Capacity is counted in calls (two recognizers each). A call beyond it is not streamed: it gets
post-call QA only and is counted (`degraded:<reason>` in keys.LIVEQA_COUNTS, shown by /metrics).
The call itself never waits on any of this: live QA only watches AMI events and adds spy channels.

The default (`liveqa_max_calls` = 0) is CALLS_PER_CORE x the cores this process may use, measured
by bench/liveqa_bench.py on the packaged model (bench/RESULTS.md).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from ivr import keys
from ivr.settings import Settings

# bench/RESULTS.md "Live QA": a call (two legs) costs ~0.6 of a core; 2 shared cores held 2 calls within
# the bound and lagged at 3. One per core leaves the headroom the 2 s bound needs.
CALLS_PER_CORE = 1
DEGRADE_REASONS = ("capacity", "claimed", "disabled", "originate_failed", "lag", "redis")

# Renew only while the value is still ours; delete only our own claim.
_RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def cores() -> int:
    """The CPUs this process may run on (a container's or a unit's CPUAffinity=, not the machine's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def max_calls(settings: Settings) -> int:
    return settings.liveqa_max_calls or CALLS_PER_CORE * cores()


@dataclass
class Capacity:
    """Slots for calls; `counts` is what this process admitted and turned away, by reason."""

    limit: int
    active: set[str] = field(default_factory=set)
    counts: Counter[str] = field(default_factory=Counter)

    def admit(self, call_id: str) -> bool:
        if call_id in self.active:
            return False
        if len(self.active) >= self.limit:
            self.counts["degraded:capacity"] += 1
            return False
        self.active.add(call_id)
        self.counts["streamed"] += 1
        return True

    def release(self, call_id: str) -> None:
        self.active.discard(call_id)

    def degrade(self, reason: str) -> None:
        if reason not in DEGRADE_REASONS:
            raise ValueError(f"live QA degrade reason {reason!r}: one of {', '.join(DEGRADE_REASONS)}")
        self.counts[f"degraded:{reason}"] += 1


class Claims:
    """SET NX with a TTL per call: the first process to claim a call streams it; the TTL frees the
    claim of a process that died, renewals keep a live one's."""

    def __init__(self, redis: aioredis.Redis, node: str, ttl_s: int, timeout_s: float = 2.0) -> None:
        self.redis, self.node, self.ttl_s, self.timeout_s = redis, node, ttl_s, timeout_s

    async def claim(self, call_id: str) -> bool:
        return bool(await self.redis.set(keys.liveqa_claim(call_id), self.node, nx=True, ex=self.ttl_s))

    async def renew(self, call_id: str) -> bool:
        return bool(await self.redis.eval(_RENEW, 1, keys.liveqa_claim(call_id), self.node, self.ttl_s))

    async def release(self, call_id: str) -> None:
        await self.redis.eval(_RELEASE, 1, keys.liveqa_claim(call_id), self.node)
