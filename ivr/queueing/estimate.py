"""Our estimate of a caller's wait: who is ahead, who is staffed, and how long calls take lately.

Method (docs/queues.md, "Wait estimate"):
1. Handle time H = trimmed mean of recent handle times (talk + wrap-up). With fewer than
   `min_samples` calls, the configured default is blended in as if it were the missing samples,
   so one odd call does not swing the estimate.
2. Every staffed agent becomes free at some time: an idle agent now; a busy agent after the rest
   of the current call: H - elapsed when we know how long it has run (never less than H/4, a long
   call is not "about to end" just because it passed the mean), else H/2 (a random moment in a call).
3. Callers are served in order: each takes the agent that frees first, who frees again H later.
   The caller's estimate is the time the agent for their position frees. This is "callers ahead /
   service rate" with the first wave of busy agents counted exactly.
4. low/high rerun the same with the 25th/75th percentile handle time (or 0.6 H / 1.5 H when there
   are too few calls to have percentiles).
No staffed agent (all logged out or paused): None, the announcement then gives no time.
"""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

MAX_POSITION = 10_000  # a queue this long is a fault; bound the simulation anyway
_MIN_RESIDUAL = 0.25


class WaitEstimate(BaseModel):
    model_config = ConfigDict(frozen=True)
    seconds: float
    low: float
    high: float
    method: str  # "service-simulation" or "service-simulation/default-handle"
    handle_s: float
    samples: int
    agents: int


def handle_time(samples: Sequence[float], default_s: float, min_samples: int = 5) -> tuple[float, float, float]:
    """(typical, low, high) handle time in seconds from recent calls; see the module doc."""
    clean = sorted(s for s in samples if s > 0)
    if len(clean) < min_samples:
        typical = (sum(clean) + default_s * (min_samples - len(clean))) / min_samples
        return typical, typical * 0.6, typical * 1.5
    cut = len(clean) // 10  # 10 % off each end: a two-hour call or a misdial does not set the pace
    typical = statistics.fmean(clean[cut:len(clean) - cut])
    q1, _, q3 = statistics.quantiles(clean, n=4, method="inclusive")
    return typical, min(q1, typical), max(q3, typical)


def _start_time(position: int, free_at: list[float], handle_s: float) -> float:
    heap = list(free_at)
    heapq.heapify(heap)
    start = 0.0
    for _ in range(position):
        start = heapq.heappop(heap)
        heapq.heappush(heap, start + handle_s)
    return start


def _free_times(available: int, busy: int, busy_elapsed: Sequence[float] | None, handle_s: float) -> list[float]:
    if busy_elapsed is not None and len(busy_elapsed) == busy:
        residual = [max(handle_s - e, handle_s * _MIN_RESIDUAL) for e in busy_elapsed]
    else:
        residual = [handle_s / 2] * busy
    return [0.0] * available + residual


def estimate_wait(
    position: int,
    agents_available: int,
    agents_busy: int,
    recent_handle_times: Sequence[float],
    *,
    busy_elapsed: Sequence[float] | None = None,
    wrapup_s: float = 0.0,
    default_handle_s: float = 180.0,
    min_samples: int = 5,
) -> WaitEstimate | None:
    """Estimated wait of the caller at 1-based `position`; None when no agent is staffed.

    `agents_available`: logged in, not paused, idle. `agents_busy`: logged in, not paused, on a call.
    `recent_handle_times`: talk seconds of recent calls of this queue. `busy_elapsed`: how long each
    busy agent's call has run, when known (one value per busy agent, else ignored).
    """
    if position < 1:
        raise ValueError(f"position is 1-based, got {position}")
    if agents_available < 0 or agents_busy < 0:
        raise ValueError(f"agent counts must be >= 0, got {agents_available}, {agents_busy}")
    agents = agents_available + agents_busy
    if agents == 0:
        return None
    typical, low, high = handle_time(recent_handle_times, default_handle_s, min_samples)
    pos = min(position, MAX_POSITION)

    def run(h: float) -> float:
        h += wrapup_s
        return _start_time(pos, _free_times(agents_available, agents_busy, busy_elapsed, h), h)

    samples = sum(1 for s in recent_handle_times if s > 0)
    method = "service-simulation" if samples >= min_samples else "service-simulation/default-handle"
    return WaitEstimate(seconds=run(typical), low=run(low), high=run(high), method=method,
                        handle_s=typical + wrapup_s, samples=samples, agents=agents)
