"""Verdicts of the live QA bench beside post-call transcription (`--with-transcription`), and its block.

Transcription keeps up at a level when its backlog did not grow over the level: the call audio
queued or being transcribed, sampled just before an arrival, is no larger at the level's last
sample than at its first one of the same phase (the same source call is next, so both samples see
the same mix of calls). Over those samples audio transcribed = backlog at the start + audio queued
- backlog at the end, so this is the same test as "call-seconds transcribed per second >= call-
seconds produced per second". A failed job fails the level.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.liveqa_levels import COMBINED_BEGIN, COMBINED_END, MARKER, RESULTS, LevelResult


@dataclass(frozen=True)
class Backlog:
    """The transcription queue just before arrival `k` (then a call of `queued_s` s is queued)."""

    k: int
    at: float  # time.time()
    audio_s: float  # call audio queued or running, not yet transcribed
    jobs: int
    waiting: int  # of those jobs, not started yet
    queued_s: float


@dataclass
class FeedResult:
    calls: int
    start: float  # the live calls' level, time.time()
    end: float
    samples: list[Backlog] = field(default_factory=list)
    period: int = 2  # arrivals before the same source call comes again
    failed: int = 0
    cpu_s: float = 0.0  # the workers' CPU between start and end
    drain_s: float = 0.0  # after the level, until the backlog was empty

    @property
    def edges(self) -> tuple[Backlog, Backlog] | None:
        """The first sample in the level and the last one after it of the same phase."""
        inside = [s for s in self.samples if self.start <= s.at <= self.end]
        if not inside:
            return None
        first = inside[0]
        same = [s for s in inside[1:] if (s.k - first.k) % self.period == 0]
        return (first, same[-1]) if same else None

    @property
    def span_s(self) -> float:
        edges = self.edges
        return edges[1].at - edges[0].at if edges else float("nan")

    @property
    def produced_s(self) -> float:
        edges = self.edges
        return sum(s.queued_s for s in self.samples if edges and edges[0].k <= s.k < edges[1].k)

    @property
    def transcribed_s(self) -> float:
        edges = self.edges
        return edges[0].audio_s + self.produced_s - edges[1].audio_s if edges else float("nan")

    @property
    def kept_up(self) -> bool:
        edges = self.edges
        return edges is not None and not self.failed and edges[1].audio_s <= edges[0].audio_s

    @property
    def cores(self) -> float:
        return self.cpu_s / (self.end - self.start) if self.end > self.start else float("nan")


@dataclass
class Combined:
    live: LevelResult
    feed: FeedResult

    @property
    def both(self) -> bool:
        return self.live.held and self.feed.kept_up

    def line(self) -> str:
        edges, feed = self.feed.edges, self.feed
        backlog = f"{edges[0].audio_s:.1f} -> {edges[1].audio_s:.1f} call-s" if edges else "too few arrivals"
        return (f"{self.live.line()}; transcription backlog {backlog}, failed {feed.failed}, "
                f"drain {feed.drain_s:.1f} s: {'kept up' if feed.kept_up else 'NOT kept up'}")


def highest(results: list[Combined]) -> int:
    """The most concurrent calls at which live QA held and transcription kept up (0: none)."""
    return max((r.live.calls for r in results if r.both), default=0)


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _row(r: Combined) -> str:
    live, feed, edges = r.live, r.feed, r.feed.edges
    start, end = edges if edges else (None, None)
    backlog = f"{start.audio_s:.1f} → {end.audio_s:.1f}" if start and end else "-"
    waiting = f"{start.waiting} → {end.waiting}" if start and end else "-"
    return (f"| {live.calls} | {len(live.latencies)}/{live.expected} | {live.pct(0.5):.2f} | {live.pct(0.99):.2f} | "
            f"{live.cpu_per_stream:.3f} | {live.lagged} | {_yes(live.held)} | "
            f"{feed.produced_s / feed.span_s:.2f} | {feed.transcribed_s / feed.span_s:.2f} | {backlog} | {waiting} | "
            f"{feed.failed} | {feed.cores:.2f} | {feed.drain_s:.1f} | {_yes(feed.kept_up)} | {_yes(r.both)} |")


def block(results: list[Combined], *, cpus: int, workers: int, loops: int, call_s: list[float],
          speech_only: bool) -> str:
    best = highest(results)
    levels = ",".join(str(r.live.calls) for r in results)
    lines = [
        COMBINED_BEGIN, "### Beside post-call transcription (`--with-transcription`)", "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {cpus} CPUs shared by live QA and "
        f"{workers} `ivr transcribe worker` processes on the same Redis. Command: `.venv/bin/python -m "
        f"bench.liveqa_bench --with-transcription --levels {levels} --loops {loops} --workers {workers}`. "
        f"At N live calls the workers get N call-seconds of finished calls per second (a call of d s every "
        f"d/N s, from before the live calls start): the transcription bench's sentences, "
        f"{' and '.join(f'{s:.1f} s' for s in call_s)} calls, agent and caller on separate 8 kHz legs, "
        f"{'speech only' if speech_only else 'whole legs'} (the configured default).", "",
        "| calls | alerts | p50 (s) | p99 (s) | live CPU s per stream-s | lag stops | live QA held "
        "| call-s queued per s | call-s transcribed per s | backlog, call-s (start → end) "
        "| jobs waiting (start → end) | failed | workers' CPU (cores) | drain after (s) | kept up | both |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *(_row(r) for r in results), "",
        f"**{best} calls on {cpus} cores while post-call transcription keeps up** (live QA held: every alert, "
        f"none over 2 s, no lag stop; transcription kept up: its backlog did not grow over the level).", "",
        "Backlog = call audio queued or being transcribed, sampled just before an arrival; start and end are",
        "the level's first sample and its last one of the same phase, and the rates are over that span",
        "(transcribed = backlog at the start + queued - backlog at the end). Drain: after the live calls",
        "ended and the feed stopped, until the last job was done. The bench's calls are shorter than real",
        "ones so that a level sees several arrivals; a job's fixed costs (Redis, QA, files) weigh a bit more.",
        COMBINED_END,
    ]
    return "\n".join(lines)


def place(text: str, combined: str) -> str:
    """`text` with the combined block replaced, or added at the end of the Live QA section."""
    start, end = text.find(COMBINED_BEGIN), text.find(COMBINED_END)
    if start >= 0 and end > start:
        return text[:start] + combined + text[end + len(COMBINED_END):]
    if start >= 0 or end >= 0:
        raise ValueError(f"bench/RESULTS.md: {COMBINED_BEGIN!r} and {COMBINED_END!r} must both be there, in order")
    if MARKER not in text:
        return text.rstrip("\n") + f"\n\n{MARKER}\n\n{combined}\n"
    head, rest = text.split(MARKER, 1)
    cut = rest.find("\n## ")
    body, tail = (rest, "") if cut < 0 else (rest[:cut], rest[cut:])
    return head + MARKER + body.rstrip("\n") + "\n\n" + combined + "\n" + tail


def write_combined(combined: str, path: Path = RESULTS) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(place(text, combined), encoding="utf-8")
