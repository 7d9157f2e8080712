"""The per-queue switch (`live_qa:` in queues.yaml) and the phrase rules of each leg.

queues.yaml is read again when it changes (its mtime), so an admin turns live QA on or off for a
queue without restarting `ivr liveqa`; a file that stops parsing keeps the last good switches
(and says so) rather than turning every queue off mid-shift.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ivr.liveqa.matcher import Leg, LiveRules
from ivr.qa.phrases import load_list, parse_list
from ivr.queueing.config import QueueConfigError, load_queue_config
from ivr.settings import Settings

log = logging.getLogger(__name__)


class QueueSwitches:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime: float | None = None
        self._on: frozenset[str] = frozenset()

    def enabled(self, queue: str) -> bool:
        self._refresh()
        return queue in self._on

    def _refresh(self) -> None:
        try:
            mtime = self.path.stat().st_mtime
        except OSError as exc:
            log.warning("live QA: %s unreadable (%s); keeping the last switches", self.path, exc)
            return
        if mtime == self._mtime:
            return
        try:
            cfg = load_queue_config(self.path)
        except QueueConfigError as exc:
            log.warning("live QA: %s; keeping the last switches", exc)
            return
        self._mtime = mtime
        self._on = frozenset(name for name, q in cfg.queues.items() if q.live_qa)
        log.info("live QA on for queues: %s", ", ".join(sorted(self._on)) or "none")


def leg_rules(settings: Settings, language: str) -> dict[Leg, LiveRules]:
    """The agent's leg: the forbidden and greeting lists of post-call QA, its greeting window and
    phrase gap. The caller's leg is recognised (both legs stream) but has no list of its own."""
    policy = settings.qa_policy_dir
    forbidden = load_list(policy, "forbidden", language)
    agent = LiveRules(forbidden=forbidden, greeting=load_list(policy, "greeting", language),
                      greeting_window_s=settings.qa_greeting_window, phrase_max_gap_s=settings.qa_phrase_max_gap)
    nothing = parse_list("", forbidden.path, "forbidden", language)
    caller = LiveRules(forbidden=nothing, greeting=None, phrase_max_gap_s=settings.qa_phrase_max_gap)
    return {"agent": agent, "caller": caller}
