"""Time to answer: from entering the queue and from the first ring, and the 3-ring check of the policy.

Times are epoch seconds (AMI event timestamps and call records use them). "Within N rings" is
measured on the phone that answered, from its first ring: the policy asks the person who picks up
to do so within 3 rings, and that is what an agent controls (a member's ring timeout never exceeds
3 rings, so a phone that rings longer is skipped). How long the caller waited since the first ring
of *any* phone (`since_first_ring_s`: rings that went unanswered elsewhere) and since entering the
queue (`wait_s`) are kept beside it: they are the caller's side of the same call.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict


class AnswerTiming(BaseModel):
    """Stored on the call record as `answer_timing`."""

    model_config = ConfigDict(frozen=True)
    answered: bool
    wait_s: float  # entered the queue -> answered (or left, if nobody answered)
    ring_s: float | None  # first ring of the phone that answered -> answered; None when nobody answered
    rings: int | None  # ring cycles of that phone before the answer (a ring that started counts)
    since_first_ring_s: float | None = None  # first ring of any phone for this caller -> answered
    within_rings: bool  # the policy check; False when nobody answered
    ring_cycle_s: float
    ring_limit: int


def answered_within_rings(
    first_ring_at: float, answered_at: float, ring_cycle_s: float, rings: int = 3
) -> bool:
    """True when the answer came no later than `rings` full ring cycles after the first ring."""
    if ring_cycle_s <= 0 or rings < 1:
        raise ValueError(f"ring_cycle_s must be > 0 and rings >= 1, got {ring_cycle_s}, {rings}")
    if answered_at < first_ring_at:
        raise ValueError(f"answered_at {answered_at} is before first_ring_at {first_ring_at}")
    return answered_at - first_ring_at <= ring_cycle_s * rings


def rings_heard(first_ring_at: float, answered_at: float, ring_cycle_s: float) -> int:
    """Ring cycles started before the answer: answered 0.5 s in = 1 ring, 5.5 s in (5 s cycle) = 2."""
    elapsed = max(0.0, answered_at - first_ring_at)
    return max(1, math.ceil(elapsed / ring_cycle_s - 1e-9))


def answer_timing(
    entered_at: float,
    first_ring_at: float | None,
    answered_at: float | None,
    left_at: float | None,
    ring_cycle_s: float,
    rings: int = 3,
    caller_first_ring_at: float | None = None,
) -> AnswerTiming:
    """The record of one queued call. `first_ring_at` is the first ring of the phone that answered,
    `caller_first_ring_at` that of any phone (default: the same); `left_at` is used when nobody
    answered (abandon, overflow)."""
    if answered_at is None:
        end = left_at if left_at is not None else entered_at
        return AnswerTiming(answered=False, wait_s=max(0.0, end - entered_at), ring_s=None, rings=None,
                            within_rings=False, ring_cycle_s=ring_cycle_s, ring_limit=rings)
    if first_ring_at is None:
        raise ValueError("an answered call must have a first ring (AgentCalled) before AgentConnect")
    return AnswerTiming(
        answered=True,
        wait_s=max(0.0, answered_at - entered_at),
        ring_s=answered_at - first_ring_at,
        rings=rings_heard(first_ring_at, answered_at, ring_cycle_s),
        within_rings=answered_within_rings(first_ring_at, answered_at, ring_cycle_s, rings),
        ring_cycle_s=ring_cycle_s,
        ring_limit=rings,
        since_first_ring_s=answered_at - min(first_ring_at, caller_first_ring_at or first_ring_at),
    )
