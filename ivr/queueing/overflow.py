"""Overflow: when a caller should leave (or not enter) a queue, where to, and why.

Rules come from queues.yaml and are checked in order when a caller arrives and again each time the
engine wakes up while they wait; the first rule that fires wins. A rule with `during: peak` applies
only while that schedule is open. The decision carries a reason code for counters and a sentence
for people; the engine stores it on the call record (`overflow`).

Queue length is measured as the callers AHEAD of this caller: a VIP who enters at the front is not
sent away because of the callers behind them, and a caller who has moved up is not sent away
because of late arrivals. "Per agent" means per staffed agent (logged in, not paused, idle or on a
call): counting only idle agents would overflow every caller in an ordinary busy minute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ivr.queueing.model import OverflowRule, OverflowWhen, Phase, TargetKind
from ivr.schedule import Schedule, schedule_status

ReasonCode = Literal[
    "no_agent_logged_in", "no_agent_staffed", "estimated_wait", "callers_waiting", "callers_per_agent", "max_wait"
]


class QueueSnapshot(BaseModel):
    """What the engine knows about the queue at the moment of the check (from the live state)."""

    model_config = ConfigDict(frozen=True)
    queue: str
    callers_ahead: int = Field(ge=0)  # callers who will be served before this one
    agents_logged_in: int = Field(ge=0)
    agents_paused: int = Field(ge=0)
    estimated_wait_s: float | None = None  # ivr.queueing.estimate; None = nobody staffed

    @property
    def agents_staffed(self) -> int:
        return max(0, self.agents_logged_in - self.agents_paused)


class OverflowDecision(BaseModel):
    """Stored on the call record as-is (model_dump() is plain JSON)."""

    model_config = ConfigDict(frozen=True)
    queue: str
    rule: str
    reason_code: ReasonCode
    reason: str
    target_kind: TargetKind
    target: str | None
    phase: Phase
    waited_s: float
    during: str | None
    at: str  # ISO time of the decision
    observed: float | None  # the measured value; None when it is unbounded (nobody staffed)
    threshold: float | None


Hit = tuple[ReasonCode, str, float | None, float | None]


def _triggers(when: OverflowWhen, snap: QueueSnapshot, phase: Phase, waited_s: float) -> Hit | None:
    staffed = snap.agents_staffed
    if when.no_agent_logged_in and snap.agents_logged_in == 0:
        return "no_agent_logged_in", f"no agent is logged in to {snap.queue!r}", 0, None
    if when.no_agent_staffed and staffed == 0:
        return ("no_agent_staffed", f"no agent is available in {snap.queue!r} "
                f"({snap.agents_logged_in} logged in, {snap.agents_paused} paused)", 0, None)
    limit = when.estimated_wait_over_s
    if limit is not None:
        est = snap.estimated_wait_s
        if est is None:
            return "estimated_wait", f"estimated wait unknown (nobody staffed), limit {limit:g} s", None, limit
        if est > limit:
            return "estimated_wait", f"estimated wait {est:.0f} s is over {limit:g} s", est, limit
    if when.callers_waiting_over is not None and snap.callers_ahead > when.callers_waiting_over:
        n = when.callers_waiting_over
        return "callers_waiting", f"{snap.callers_ahead} callers ahead, over {n}", snap.callers_ahead, n
    ratio_limit = when.callers_per_agent_over
    if ratio_limit is not None:
        callers = snap.callers_ahead + 1
        if staffed == 0:
            return "callers_per_agent", f"{callers} caller(s) and no staffed agent", None, ratio_limit
        ratio = callers / staffed
        if ratio > ratio_limit:
            return ("callers_per_agent", f"{ratio:.1f} callers per staffed agent ({callers} callers, "
                    f"{staffed} agents), over {ratio_limit:g}", ratio, ratio_limit)
    if when.waited_over_s is not None and phase == "waiting" and waited_s > when.waited_over_s:
        return "max_wait", f"waited {waited_s:.0f} s, over {when.waited_over_s:g} s", waited_s, when.waited_over_s
    return None


def _in_window(rule: OverflowRule, now: datetime, schedules: Mapping[str, Schedule],
               overrides: Mapping[str, str]) -> bool:
    if rule.during is None:
        return True
    if rule.during not in schedules:
        raise ValueError(f"overflow rule {rule.name!r}: unknown schedule {rule.during!r}")
    return schedule_status(schedules[rule.during], now, overrides.get(rule.during)) == "open"


def evaluate_overflow(
    rules: Sequence[OverflowRule],
    snapshot: QueueSnapshot,
    now: datetime,
    phase: Phase,
    waited_s: float = 0.0,
    *,
    schedules: Mapping[str, Schedule] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> OverflowDecision | None:
    """The first rule that fires for this caller now, or None to keep queueing.

    `schedules` resolves `during:` names; `overrides` holds manual schedule overrides read from Redis.
    """
    for rule in rules:
        if phase not in rule.phases or not _in_window(rule, now, schedules or {}, overrides or {}):
            continue
        hit = _triggers(rule.when, snapshot, phase, waited_s)
        if hit is None:
            continue
        code, why, observed, threshold = hit
        if rule.during:
            why += f" during {rule.during!r}"
        target = rule.to.value
        where = rule.to.kind if target is None else f"{rule.to.kind} {target}"
        return OverflowDecision(
            queue=snapshot.queue, rule=rule.name, reason_code=code, reason=f"{why} -> {where} (rule {rule.name})",
            target_kind=rule.to.kind, target=target, phase=phase, waited_s=waited_s, during=rule.during,
            at=now.isoformat(), observed=observed, threshold=threshold,
        )
    return None
