"""Missed-call auto-pause: an agent who lets N offered calls in a row ring out is paused.

Asterisk's own autopause fires after ONE miss; policy wants N (queues.yaml autopause_after_misses),
so the AMI listener feeds AgentRingNoAnswer / AgentConnect here and pauses when told to. Every
ring-out counts, even for the same caller rung again: an absent agent would otherwise keep a lone
caller ringing an empty desk forever.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_INTERFACE = re.compile(r"^PJSIP/(.+?)(?:-[0-9a-f]{8})?$")


@dataclass(frozen=True)
class PauseOrder:
    """What the listener should do: QueuePause(agent, reason) in every queue."""

    agent: str
    misses: int
    reason: str


@dataclass
class MissCounter:
    """Consecutive missed offers per agent. Pure: no I/O, the caller acts on the returned PauseOrder."""

    threshold: int  # 0 = never pause
    _misses: dict[str, int] = field(default_factory=dict)
    _changed: set[str] = field(default_factory=set)  # agents whose count changed (the leader writes it)

    def __post_init__(self) -> None:
        if self.threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {self.threshold}")

    def missed(self, agent: str) -> PauseOrder | None:
        """An offered call rang out on `agent` (AgentRingNoAnswer). Returns a PauseOrder at the threshold."""
        count = self._misses.get(agent, 0) + 1
        self._misses[agent] = count
        self._changed.add(agent)
        if self.threshold and count >= self.threshold:
            # Reset so an agent who unpauses and misses again gets the full N chances before the next pause.
            self._misses[agent] = 0
            return PauseOrder(agent, count, f"auto: missed {count} calls in a row")
        return None

    def answered(self, agent: str) -> None:
        """The agent took a call (AgentConnect): the run of misses is broken."""
        self.reset(agent)

    def reset(self, agent: str) -> None:
        """Manual pause/unpause, login or logout: start counting afresh."""
        if self._misses.pop(agent, None) is not None:
            self._changed.add(agent)

    def take_changed(self) -> dict[str, int]:
        """Agent -> count (0: none) of the counts changed since the last call (ivr.queueing.leader_state)."""
        out = {agent: self._misses.get(agent, 0) for agent in self._changed}
        self._changed.clear()
        return out

    def load(self, counts: dict[str, int]) -> None:
        """Continue the streaks another process counted (a new AMI leader)."""
        self._misses = {agent: n for agent, n in counts.items() if n > 0}
        self._changed.clear()

    def misses(self, agent: str) -> int:
        return self._misses.get(agent, 0)


def agent_from_interface(interface: str) -> str:
    """'PJSIP/1001' (member Interface) or 'PJSIP/1001-0000002a' (a channel of it) -> '1001'."""
    m = _INTERFACE.match(interface)
    if not m:
        raise ValueError(f"{interface!r} is not a PJSIP interface or channel")
    return m.group(1)
