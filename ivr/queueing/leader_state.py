"""What the AMI leader remembers between events, kept in Redis so the next leader starts from it.

LiveReducer needs, between events, each caller's ring timing (when it joined, the first ring of any
phone, when each phone began ringing) and each agent's missed offers in a row (MissCounter). In one
process's memory alone a takeover lost both: a caller ringing at that moment got no or a wrong answer
timing, an agent's streak of misses restarted from 0. RingBook holds the callers' part and notes what
changed; `state_ops` turns the changes of one event into writes (keys.AMI_RINGS, keys.AMI_MISSES) that
the listener puts in the same fenced MULTI as the event's counters and its applied mark. So Redis holds
the state exactly as of the last applied event, and a new leader that loads it (`load`) and replays
the events not marked applied ends where the last leader would have.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any

import redis.asyncio as aioredis

from ivr import keys
from ivr.queueing.misses import MissCounter
from ivr.state.ops import Expire, HDel, HSet, Op, dumps

log = logging.getLogger(__name__)
GONE_KEPT = 1000  # callers who left recently: AgentConnect may arrive after QueueCallerLeave


@dataclass
class RingState:
    """One caller's timing in a queue (epoch seconds)."""

    queue: str
    since: float
    first_ring: float | None = None  # of any phone
    rang_at: dict[str, float] = field(default_factory=dict)  # agent -> when its phone began ringing
    left: float | None = None  # left the queue (still needed: AgentConnect may follow the leave)


class RingBook:
    """Callers waiting and recently gone; every change is noted for `state_ops`. Pure: no I/O."""

    def __init__(self, gone_kept: int = GONE_KEPT) -> None:
        self.gone_kept = gone_kept
        self.waiting: dict[str, RingState] = {}
        self.gone: OrderedDict[str, RingState] = OrderedDict()
        self.touched: set[str] = set()

    def find(self, uid: str) -> RingState | None:
        return self.waiting.get(uid) or self.gone.get(uid)

    def join(self, uid: str, queue: str, since: float) -> None:
        self.gone.pop(uid, None)
        self.waiting[uid] = RingState(queue, since)
        self.touched.add(uid)

    def entry(self, uid: str, queue: str, since: float) -> RingState:
        """A QueueEntry (resync, or a re-entry after an announcement): keep what we knew of the caller."""
        if uid in self.waiting:
            return self.waiting[uid]
        known = self.gone.get(uid)
        state = known if known is not None and known.queue == queue else RingState(queue, since)
        self.gone.pop(uid, None)
        state.left = None
        self.waiting[uid] = state
        self.touched.add(uid)
        return state

    def rang(self, uid: str, agent: str, now: float) -> None:
        state = self.waiting.get(uid)
        if state is not None:
            state.first_ring = state.first_ring or now
            state.rang_at[agent] = now
            self.touched.add(uid)

    def leave(self, uid: str, now: float) -> None:
        state = self.waiting.pop(uid, None)
        if state is not None:
            self._gone(uid, state, now)

    def abandon(self, uid: str) -> RingState | None:
        self.touched.add(uid)
        return self.waiting.pop(uid, None) or self.gone.pop(uid, None)

    def resync(self, queue: str, now: float) -> None:
        """A QueueStatus reply starts: its QueueEntry events bring back the callers still waiting."""
        for uid in [u for u, s in self.waiting.items() if s.queue == queue]:
            self._gone(uid, self.waiting.pop(uid), now)

    def _gone(self, uid: str, state: RingState, now: float) -> None:
        state.left = now
        self.gone[uid] = state
        self.touched.add(uid)
        while len(self.gone) > self.gone_kept:
            self.touched.add(self.gone.popitem(last=False)[0])

    def restore(self, states: dict[str, RingState], forget: set[str] | None = None) -> None:
        """Replace everything with a loaded state (the gone oldest first, as they left); the callers
        in `forget` and any evicted here are deleted by the next write."""
        self.waiting = {u: s for u, s in states.items() if s.left is None}
        gone = sorted(((u, s) for u, s in states.items() if s.left is not None), key=lambda us: us[1].left or 0.0)
        self.gone = OrderedDict(gone[-self.gone_kept:] if self.gone_kept else [])
        self.touched = (forget or set()) | {u for u in states if self.find(u) is None}


def state_ops(book: RingBook, misses: MissCounter, ttl_s: int) -> list[Op]:
    """The writes of what changed since the last call (then forgotten), with the keys' TTL."""
    ops: list[Op] = []
    for uid in sorted(book.touched):
        state = book.find(uid)
        ops.append(HSet(keys.AMI_RINGS, {uid: dumps(asdict(state))}) if state else HDel(keys.AMI_RINGS, uid))
    for agent, count in sorted(misses.take_changed().items()):
        ops.append(HSet(keys.AMI_MISSES, {agent: str(count)}) if count else HDel(keys.AMI_MISSES, agent))
    book.touched.clear()
    touched = {op.key for op in ops}
    return [*ops, *(Expire(key, ttl_s) for key in sorted(touched))]


def decode_ring(uid: str, text: str) -> RingState:
    """One AMI_RINGS entry; ValueError naming the caller when it is not what we write."""
    try:
        raw: dict[str, Any] = json.loads(text)
        rang = {str(a): float(t) for a, t in (raw.get("rang_at") or {}).items()}
        return RingState(str(raw["queue"]), float(raw["since"]), _opt(raw.get("first_ring")), rang,
                         _opt(raw.get("left")))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"{keys.AMI_RINGS} field {uid!r}: not a ring state ({exc!r}): {text[:80]!r}") from exc


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


def decode_rings(raw: dict[str, str], now: float, max_age_s: float) -> dict[str, RingState]:
    """Entries of AMI_RINGS; a damaged one is logged and left out, one older than `max_age_s` (its
    caller's events were lost) too."""
    out: dict[str, RingState] = {}
    for uid, text in raw.items():
        try:
            state = decode_ring(uid, text)
        except ValueError as exc:
            log.warning("leader state: %s; left out", exc)
            continue
        if state.since >= now - max_age_s:
            out[uid] = state
    return out


def decode_misses(raw: dict[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for agent, text in raw.items():
        try:
            out[agent] = int(text)
        except ValueError:
            log.warning("leader state: %s field %r is %r, not a count; left out", keys.AMI_MISSES, agent, text)
    return out


async def load(redis: aioredis.Redis, book: RingBook, misses: MissCounter, now: float, max_age_s: float) -> int:
    """Replace the book's callers and the agents' misses with what the last leader wrote; returns
    how many callers. Raises what Redis raises: a leader that cannot load must not apply."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hgetall(keys.AMI_RINGS)
        pipe.hgetall(keys.AMI_MISSES)
        raw_rings, raw_counts = await pipe.execute()
    rings = _text(raw_rings)
    states = decode_rings(rings, now, max_age_s)
    book.restore(states, forget=set(rings) - set(states))
    misses.load(decode_misses(_text(raw_counts)))
    return len(states)


def _str(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _text(raw: dict[Any, Any]) -> dict[str, str]:
    """A hash as read, whether the client decodes responses or not."""
    return {_str(k): _str(v) for k, v in raw.items()}
