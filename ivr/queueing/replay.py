"""Which AMI events a leader already applied, so a new leader replays the rest and nothing twice.

Asterisk formats each event once and sends the same text to every AMI session; with
`timestampevents = yes` (our manager.conf) it carries `Timestamp: <epoch>.<microseconds>`. That
timestamp with the event's name and the ids in it (uniqueid, member, queue, user event id) names one
event on every node: the identity. The leader adds the identity of each event it applied to a sorted
set (score: the timestamp) in the same MULTI as the event's counters; a standby that takes over
looks each event it heard up there. Marks older than `keep_s` are pruned: a standby keeps less.

Without a Timestamp (an Asterisk whose manager.conf lacks timestampevents) an event has no identity:
it is applied as heard and a takeover cannot replay it (logged once).
"""

from __future__ import annotations

import logging

import redis.asyncio as aioredis

from ivr import keys
from ivr.state.ops import Op, ZAdd

log = logging.getLogger(__name__)
_ID_FIELDS = ("Event", "Uniqueid", "Interface", "Queue", "UserEvent", "Id", "Status")


def identity(e: dict[str, str]) -> str:
    """The event's name on every node, or "" when it has no Timestamp."""
    ts = e.get("Timestamp", "")
    if not ts:
        return ""
    return "|".join([ts, *(e.get(f, "") for f in _ID_FIELDS)])


def event_time(e: dict[str, str], received: float) -> float:
    """When Asterisk sent the event (its Timestamp), else when we received it."""
    try:
        return float(e["Timestamp"])
    except (KeyError, ValueError):
        return received


class AppliedMarks:
    def __init__(self, key: str = keys.AMI_APPLIED, keep_s: float = 300.0, prune_every: int = 200) -> None:
        self.key, self.keep_s, self.prune_every = key, keep_s, prune_every
        self._since_prune = 0
        self._warned = False

    def ops(self, ident: str, at: float) -> list[Op]:
        """The mark of an applied event, for the MULTI that applies it."""
        if not ident:
            if not self._warned:
                self._warned = True
                log.warning("AMI events carry no Timestamp (manager.conf timestampevents = yes): "
                            "a new leader cannot replay what happened while the lease changed hands")
            return []
        return [ZAdd(self.key, ident, at)]

    async def seen(self, redis: aioredis.Redis, ident: str) -> bool:
        return await redis.zscore(self.key, ident) is not None

    async def oldest(self, redis: aioredis.Redis) -> float | None:
        """The time of the oldest mark kept (None: none). An unmarked event older than it may have been
        applied and its mark pruned since: a leader was applying events `keep_s` later."""
        first = await redis.zrange(self.key, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    async def prune(self, redis: aioredis.Redis, at: float) -> None:
        self._since_prune += 1
        if self._since_prune >= self.prune_every:
            self._since_prune = 0
            await redis.zremrangebyscore(self.key, "-inf", at - self.keep_s)
