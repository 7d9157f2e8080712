"""AMI events a listener heard but did not apply, kept for the takeover that replays them.

A standby that reaches Redis keeps the last `keep_s` of events: a leader is applying them, and a
takeover replays only those the leader had not marked applied (ivr.queueing.replay). While Redis is
out of this node's reach nobody may be applying them (the lease and every write need Redis; a single
node then applies nothing), so from then on every event is kept, with those of the last `hold_back_s`
before we noticed (the lease stays valid that long), until this node leads again and replays them:
call records then get the agent events of the outage, in order, with their own times (or until another
node leads: it replays what it heard itself). At most `limit` events are kept: past it the oldest are
dropped, counted (`lost`) and logged.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

log = logging.getLogger(__name__)
LOSS_LOG_EVERY = 1000  # a long outage logs its losses now and then, not once per event


@dataclass
class Heard:
    event: dict[str, str]
    at: float  # Asterisk's time of the event (epoch seconds)
    held: bool  # heard while nobody may have applied it: kept until replayed, not dropped by age


class HeardEvents:
    def __init__(self, keep_s: float, hold_back_s: float, limit: int = 20_000) -> None:
        if limit < 1 or keep_s < 0 or hold_back_s < 0:
            raise ValueError(f"heard events: limit={limit} must be >= 1, keep_s={keep_s} and "
                             f"hold_back_s={hold_back_s} >= 0")
        self.keep_s, self.hold_back_s, self.limit = keep_s, hold_back_s, limit
        self._items: deque[Heard] = deque()
        self.lost = 0  # events dropped because `limit` was reached

    def __len__(self) -> int:
        return len(self._items)

    def add(self, event: dict[str, str], at: float, held: bool) -> None:
        if held and self._items and not self._items[-1].held:
            self._hold_recent(at)
        self._items.append(Heard(event, at, held))
        while self._items and not self._items[0].held and self._items[0].at < at - self.keep_s:
            self._items.popleft()
        self._bound()

    def _hold_recent(self, at: float) -> None:
        """Redis just went out of reach: what we heard shortly before may not have been applied either."""
        for item in reversed(self._items):
            if item.held or item.at < at - self.hold_back_s:
                return
            item.held = True

    def release(self) -> None:
        """Another node leads again (it applies what it heard): what we hold is kept by age only."""
        for item in self._items:
            item.held = False

    def take(self) -> list[Heard]:
        """Everything kept, oldest first; the buffer is empty afterwards."""
        items, self._items = list(self._items), deque()
        return items

    def put_back(self, items: list[Heard]) -> None:
        """Events a replay could not apply (Redis failed again): first in line, kept until replayed."""
        for item in reversed(items):
            item.held = True
            self._items.appendleft(item)
        self._bound()

    def _bound(self) -> None:
        while len(self._items) > self.limit:
            dropped = self._items.popleft()
            self.lost += 1
            if self.lost == 1 or self.lost % LOSS_LOG_EVERY == 0:
                log.error("AMI listener: %d event(s) lost so far waiting for Redis (at most %d kept); "
                          "oldest dropped now: %s at %.3f", self.lost, self.limit,
                          dropped.event.get("Event"), dropped.at)
