"""Queues and schedules as the wallboard needs them, re-read when an admin edits the YAML.

A broken or missing file does not blank the wallboard: the last good version stays in use and
the problem (file, line) is shown on the page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ivr.queueing.config import load_queue_config
from ivr.schedule import Schedule, load_schedules, read_override, schedule_status

log = logging.getLogger(__name__)
PEAK_SCHEDULE = "peak"


@dataclass
class _Cached:
    mtime: float = -1.0
    error: str | None = None


@dataclass
class Catalog:
    flows_dir: Path
    language: str = "zh-CN"
    _queues: dict[str, str] = field(default_factory=dict)
    _schedules: dict[str, Schedule] = field(default_factory=dict)
    _q: _Cached = field(default_factory=_Cached)
    _s: _Cached = field(default_factory=_Cached)

    @property
    def errors(self) -> list[str]:
        return [e for e in (self._s.error, self._q.error) if e]

    @staticmethod
    def _mtime(path: Path) -> float | None:
        try:
            return path.stat().st_mtime
        except OSError:
            return None

    def schedules(self) -> dict[str, Schedule]:
        path = self.flows_dir / "schedules.yaml"
        mtime = self._mtime(path)
        if mtime is None:
            self._s.error = f"{path}: no such file (schedules: the peak window cannot be shown)"
        elif mtime != self._s.mtime:
            try:
                self._schedules, self._s.error = load_schedules(path), None
            except ValueError as exc:
                self._s.error = str(exc)
            self._s.mtime = mtime
        return self._schedules

    def queues(self) -> dict[str, str]:
        """Queue name -> title in the default language, in file order."""
        path = self.flows_dir / "queues.yaml"
        mtime = self._mtime(path)
        if mtime is None:
            self._q.error = f"{path}: no such file (no queues to show)"
        elif mtime != self._q.mtime:
            try:
                cfg = load_queue_config(path, self.schedules().keys() or None)
                self._queues = {n: q.title.get(self.language) or n for n, q in cfg.queues.items()}
                self._q.error = None
            except ValueError as exc:
                self._q.error = str(exc)
            self._q.mtime = mtime
        return self._queues

    async def peak_on(self, now: datetime, redis: object) -> bool:
        schedules = self.schedules()
        if PEAK_SCHEDULE not in schedules:
            return False
        override = await read_override(PEAK_SCHEDULE, redis)  # type: ignore[arg-type]
        return schedule_status(schedules[PEAK_SCHEDULE], now, override) == "open"
