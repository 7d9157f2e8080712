"""Counts and round-trip times of AGI commands, per command verb (for the benchmark and status)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class VerbStats:
    count: int = 0
    errors: int = 0
    total_s: float = 0.0
    max_s: float = 0.0
    # A bounded window: a server that runs for weeks must not grow without limit.
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))

    def add(self, seconds: float, ok: bool) -> None:
        self.count += 1
        self.errors += 0 if ok else 1
        self.total_s += seconds
        self.max_s = max(self.max_s, seconds)
        self.recent.append(seconds)

    def merge(self, other: VerbStats) -> None:
        self.count += other.count
        self.errors += other.errors
        self.total_s += other.total_s
        self.max_s = max(self.max_s, other.max_s)
        self.recent.extend(other.recent)

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile (0 < q <= 100) over the recent window; 0.0 when empty."""
        if not self.recent:
            return 0.0
        ordered = sorted(self.recent)
        rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
        return ordered[rank - 1]


@dataclass
class CommandStats:
    """Per-verb stats. A channel keeps one per call; the server merges them when a call ends."""

    verbs: dict[str, VerbStats] = field(default_factory=dict)

    def record(self, verb: str, seconds: float, ok: bool = True) -> None:
        stats = self.verbs.get(verb)
        if stats is None:
            stats = self.verbs[verb] = VerbStats()
        stats.add(seconds, ok)

    def merge(self, other: CommandStats) -> None:
        for verb, stats in other.verbs.items():
            self.verbs.setdefault(verb, VerbStats()).merge(stats)

    @property
    def count(self) -> int:
        return sum(s.count for s in self.verbs.values())

    @property
    def total_s(self) -> float:
        return sum(s.total_s for s in self.verbs.values())

    def summary(self) -> dict[str, dict[str, float]]:
        """{verb: {count, errors, mean_ms, p50_ms, p95_ms, max_ms}}, for reports and JSON."""
        out: dict[str, dict[str, float]] = {}
        for verb, s in sorted(self.verbs.items()):
            out[verb] = {
                "count": s.count,
                "errors": s.errors,
                "mean_ms": 1000 * s.total_s / s.count if s.count else 0.0,
                "p50_ms": 1000 * s.percentile(50),
                "p95_ms": 1000 * s.percentile(95),
                "max_ms": 1000 * s.max_s,
            }
        return out
