"""AMI queue events -> live state: callers waiting, each agent's state, today's counters per queue.

LiveReducer is pure: it keeps what it needs between events in memory (first ring of each caller,
each agent's state and since when; the leader also keeps the ring timing and the miss streaks in Redis,
ivr.queueing.leader_state) and returns Redis operations plus auto-pause orders; the AMI
listener applies the operations atomically (ivr.state.ops.apply_ops) and the pauses via AgentControl.
A QueueStatus reply (QueueParams, QueueMember..., QueueEntry...) replaces a queue's callers and
agents, so a listener that (re)connects starts from Asterisk's truth.

Counters (keys.queue_day): offered, answered, answered_in_time (the phone that answered did so
within `rings` ring cycles of its first ring; see ivr/queueing/timing.py), abandoned,
abandoned_wait_s (sum) and abandoned_wait:<bucket>, wait_s (sum over answered), rang_out (offers
not picked up). Overflow and callback counters come from the engine and the dialer (overflow_ops,
callback_ops below), into the same day hash. The writes are ivr.state.ops values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from ivr import keys
from ivr.queueing.leader_state import RingBook
from ivr.queueing.misses import MissCounter, PauseOrder, agent_from_interface
from ivr.queueing.overflow import OverflowDecision
from ivr.queueing.timing import AnswerTiming, answer_timing
from ivr.state.ops import Del, Expire, HDel, HIncr, HIncrFloat, HSet, Op, PushCapped, RPush, dumps

Event = Mapping[str, str]
ABANDON_BUCKETS = ((10, "0-10s"), (30, "10-30s"), (60, "30-60s"), (120, "60-120s"))
HANDLE_TIMES_KEPT = 50  # talk times behind the wait estimate (keys.queue_handle_times)
_RECORDED = {"agentcalled": "agent_called", "agentringnoanswer": "agent_missed", "agentconnect": "agent_connect"}


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


@dataclass
class Update:
    ops: list[Op] = field(default_factory=list)
    pauses: list[PauseOrder] = field(default_factory=list)
    timings: dict[str, AnswerTiming] = field(default_factory=dict)  # caller uniqueid -> timing

    def extend(self, other: Update) -> None:
        self.ops += other.ops
        self.pauses += other.pauses
        self.timings.update(other.timings)


def record_ops(e: Event, update: Update, now: float) -> list[Op]:
    """Agent events and answer timings, for the caller's call record (the listener's RecordWriter)."""
    kind = _RECORDED.get(e.get("Event", "").lower())
    uid = e.get("Uniqueid", "")
    ops: list[Op] = []
    if kind and uid:
        try:
            agent = agent_from_interface(e.get("Interface", ""))
        except ValueError:
            agent = e.get("Interface", "")
        payload = {"t": now, "kind": kind, "queue": e.get("Queue"), "agent": agent}
        if kind == "agent_missed":
            payload["ring_s"] = float(e.get("RingTime") or 0) / 1000  # AgentRingNoAnswer: ms
        ops.append(RPush(keys.call_events(uid), dumps(payload)))
        if kind == "agent_connect":
            ops.append(HSet(keys.call(uid), {"agent": dumps(agent)}))
    for call_id, timing in update.timings.items():
        fields = {"answer_timing": timing.model_dump(), "answered_within_3_rings": timing.within_rings}
        ops.append(HSet(keys.call(call_id), {k: dumps(v) for k, v in fields.items()}))
    return ops


def abandon_bucket(wait_s: float) -> str:
    return next((name for limit, name in ABANDON_BUCKETS if wait_s <= limit), "120s+")


def _iface(e: Event) -> str:
    """The member's interface: `Interface` in member events, `Location` in QueueStatus's QueueMember."""
    return agent_from_interface(e.get("Interface") or e.get("Location") or "")


def _member_state(e: Event) -> str:
    """QueueMemberStatus/QueueMember -> wallboard state."""
    if e.get("Paused") == "1":
        return "paused"
    status = e.get("Status", "")
    if e.get("InCall") == "1" or status in ("2", "3", "8"):
        return "on_call"
    if status in ("6", "7"):
        return "ringing"
    if status in ("4", "5"):
        return "offline"
    return "available"


class LiveReducer:
    def __init__(self, ring_cycle_s: float, rings: int, tz: str, autopause_after_misses: int, *,
                 day_ttl_s: int = keys.DEFAULT_CALL_RECORD_TTL_S) -> None:
        """`day_ttl_s`: keys.call_record_ttl_s(settings), how long the day counters are kept."""
        self.ring_cycle_s = ring_cycle_s
        self.day_ttl_s = day_ttl_s
        self.rings = rings
        self.tz = ZoneInfo(tz)
        self.misses = MissCounter(autopause_after_misses)
        self.book = RingBook()  # the callers' ring timing (kept in Redis by the leader: leader_state)
        self._agents: dict[tuple[str, str], tuple[str, float]] = {}  # (queue, agent) -> (state, since)

    def _day(self, now: float) -> str:
        return datetime.fromtimestamp(now, self.tz).date().isoformat()

    def _counters(self, queue: str, day: str, counters: dict[str, int]) -> list[Op]:
        return day_ops(queue, day, counters, ttl_s=self.day_ttl_s)

    def feed_many(self, events: Iterable[Event], now: float) -> Update:
        out = Update()
        for e in events:
            out.extend(self.feed(e, now))
        return out

    def feed(self, e: Event, now: float) -> Update:
        """One AMI event received at `now` (epoch seconds); unknown events give an empty Update."""
        handler = getattr(self, "_on_" + e.get("Event", "").lower(), None)
        return handler(e, now) if handler is not None else Update()

    def _agent(self, queue: str, agent: str, state: str, now: float, reason: str = "") -> list[Op]:
        prev = self._agents.get((queue, agent))
        since = prev[1] if prev is not None and prev[0] == state else now
        self._agents[(queue, agent)] = (state, since)
        value = {"state": state, "since": since, **({"reason": reason} if reason else {})}
        return [HSet(keys.queue_agents(queue), {agent: dumps(value)})]

    def _idle_state(self, queue: str, agent: str) -> str:
        prev = self._agents.get((queue, agent))
        return "paused" if prev is not None and prev[0] == "paused" else "available"

    # -- callers
    def _on_queuecallerjoin(self, e: Event, now: float) -> Update:
        q, uid = e["Queue"], e["Uniqueid"]
        self.book.join(uid, q, now)
        entry = {"caller": e.get("CallerIDNum", ""), "since": now, "position": int(e.get("Position") or 0),
                 "priority": int(e.get("Priority") or 0)}
        return Update([HSet(keys.queue_callers(q), {uid: dumps(entry)}),
                       *self._counters(q, self._day(now), {"offered": 1})])

    def _on_queuecallerleave(self, e: Event, now: float) -> Update:
        self.book.leave(e["Uniqueid"], now)
        return Update([HDel(keys.queue_callers(e["Queue"]), e["Uniqueid"])])

    def _on_queuecallerabandon(self, e: Event, now: float) -> Update:
        q, uid = e["Queue"], e["Uniqueid"]
        caller = self.book.abandon(uid)
        since = caller.since if caller else now - float(e.get("HoldTime") or 0)
        waited = max(0.0, now - since)
        day = self._day(now)
        ops: list[Op] = [HDel(keys.queue_callers(q), uid),
                         *self._counters(q, day, {"abandoned": 1, f"abandoned_wait:{abandon_bucket(waited)}": 1}),
                         HIncrFloat(keys.queue_day(q, day), "abandoned_wait_s", waited)]
        timing = answer_timing(since, caller.first_ring if caller else None, None, now, self.ring_cycle_s, self.rings)
        return Update(ops, timings={uid: timing})

    def _on_queueentry(self, e: Event, now: float) -> Update:
        q, uid = e["Queue"], e["Uniqueid"]
        caller = self.book.entry(uid, q, now - float(e.get("Wait") or 0))
        entry = {"caller": e.get("CallerIDNum", ""), "since": caller.since,
                 "position": int(e.get("Position") or 0), "priority": int(e.get("Priority") or 0)}
        return Update([HSet(keys.queue_callers(q), {uid: dumps(entry)})])

    # -- agents on calls
    def _on_agentcalled(self, e: Event, now: float) -> Update:
        agent = _iface(e)
        self.book.rang(e["Uniqueid"], agent, now)
        return Update(self._agent(e["Queue"], agent, "ringing", now))

    def _on_agentringnoanswer(self, e: Event, now: float) -> Update:
        q, agent = e["Queue"], _iface(e)
        ops = [*self._agent(q, agent, self._idle_state(q, agent), now),
               *self._counters(q, self._day(now), {"rang_out": 1})]
        order = self.misses.missed(agent)
        return Update(ops, pauses=[order] if order else [])

    def _on_agentconnect(self, e: Event, now: float) -> Update:
        q, uid, agent = e["Queue"], e["Uniqueid"], _iface(e)
        self.misses.answered(agent)
        caller = self.book.find(uid)
        since = caller.since if caller else now - float(e.get("HoldTime") or 0)
        rang = caller.rang_at.get(agent) if caller else None
        phone_ring = rang if rang is not None else now - float(e.get("RingTime") or 0)
        timing = answer_timing(since, phone_ring, now, None, self.ring_cycle_s, self.rings,
                               caller_first_ring_at=caller.first_ring if caller else None)
        day = self._day(now)
        counters = {"answered": 1, **({"answered_in_time": 1} if timing.within_rings else {})}
        ops = [*self._agent(q, agent, "on_call", now), *self._counters(q, day, counters),
               HIncrFloat(keys.queue_day(q, day), "wait_s", timing.wait_s)]
        return Update(ops, timings={uid: timing})

    def _on_agentcomplete(self, e: Event, now: float) -> Update:
        q, agent = e["Queue"], _iface(e)
        ops = self._agent(q, agent, self._idle_state(q, agent), now)
        talk = float(e.get("TalkTime") or 0)
        if talk > 0:
            ops.append(PushCapped(keys.queue_handle_times(q), dumps(talk), HANDLE_TIMES_KEPT))
        return Update(ops)

    # -- membership and pauses
    def _on_queuememberadded(self, e: Event, now: float) -> Update:
        agent = _iface(e)
        self.misses.reset(agent)
        return Update(self._agent(e["Queue"], agent, _member_state(e), now, e.get("PausedReason", "")))

    def _on_queuememberremoved(self, e: Event, now: float) -> Update:
        q, agent = e["Queue"], _iface(e)
        self._agents.pop((q, agent), None)
        self.misses.reset(agent)
        return Update([HDel(keys.queue_agents(q), agent)])

    def _on_queuememberpause(self, e: Event, now: float) -> Update:
        agent = _iface(e)
        self.misses.reset(agent)
        paused = e.get("Paused") == "1"
        reason = e.get("PausedReason") or e.get("Reason") or ""
        state = "paused" if paused else "available"
        return Update(self._agent(e["Queue"], agent, state, now, reason if paused else ""))

    def _on_queuememberstatus(self, e: Event, now: float) -> Update:
        state = _member_state(e)
        reason = e.get("PausedReason", "") if state == "paused" else ""
        return Update(self._agent(e["Queue"], _iface(e), state, now, reason))

    _on_queuemember = _on_queuememberstatus  # QueueStatus reply: same fields

    def _on_queueparams(self, e: Event, now: float) -> Update:
        """Start of a queue in a QueueStatus reply: forget what we had, the members/entries follow (a
        caller still waiting keeps its ring timing: the book brings it back with its QueueEntry)."""
        q = e["Queue"]
        self.book.resync(q, now)
        self._agents = {k: v for k, v in self._agents.items() if k[0] != q}
        return Update([Del(keys.queue_callers(q)), Del(keys.queue_agents(q))])
