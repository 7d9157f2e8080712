"""Prometheus /metrics: queue and service-level gauges from the same live state as the wallboard,
and the counters the call path keeps in Redis (the serve process has no HTTP endpoint of its own):
`ivr_voicemail_lost_total{reason}`, messages that could not be kept (ivr/engine/handoff.py), and
`ivr_background_task_deaths_total{task}`, background tasks of `ivr serve` and of the dashboard
(wallboard hub, trend sampler, weekly QA draw) that died and were restarted (ivr/tasks.py).

Each scrape builds its own registry from one Redis read, so nothing is kept in process-global
state. Only aggregates are exported (no numbers, no names), so the endpoint needs no login and a
Prometheus server can scrape it.
"""

from __future__ import annotations

import time

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.responses import Response

from dashboard.deps import Svc
from dashboard.liveqa import LiveQaCollector
from dashboard.livestate import Board
from dashboard.wallboard import wallboard
from ivr import keys
from ivr.engine.handoff import VOICEMAIL_LOST_REASONS


class _BoardCollector(Collector):
    def __init__(self, board: Board) -> None:
        self.board = board

    def collect(self) -> list[GaugeMetricFamily]:
        def family(name: str, doc: str, labels: tuple[str, ...] = ("queue",)) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"ivr_{name}", doc, labels=list(labels))

        waiting = family("queue_callers_waiting", "Callers waiting in the queue now")
        longest = family("queue_longest_wait_seconds", "Longest current wait in the queue")
        agents = family("queue_agents", "Queue members by state", ("queue", "state"))
        today = family("queue_calls_today", "Today's calls by outcome (local day)", ("queue", "outcome"))
        sl = family("queue_service_level_ratio", "Today's share of offered calls answered within 3 rings")
        abandon = family("queue_abandon_ratio", "Today's share of offered calls abandoned")
        overflow = family("queue_overflow_today", "Today's overflows by reason", ("queue", "reason"))
        callbacks = family("queue_callbacks_pending", "Callbacks waiting to be dialled")
        for q in self.board.queues:
            waiting.add_metric([q.name], q.waiting)
            longest.add_metric([q.name], q.longest_wait_s)
            for state, n in q.agents.items():
                agents.add_metric([q.name, state], n)
            for outcome, n in (("offered", q.offered), ("answered", q.answered),
                               ("answered_in_time", q.answered_in_time), ("abandoned", q.abandoned)):
                today.add_metric([q.name, outcome], n)
            if q.offered:
                sl.add_metric([q.name], q.answered_in_time / q.offered)
                abandon.add_metric([q.name], q.abandoned / q.offered)
            for reason, n in q.overflow.items():
                overflow.add_metric([q.name, reason], n)
            callbacks.add_metric([q.name], q.callbacks_pending)
        incident = GaugeMetricFamily("ivr_incident_statement_on", "1 while the incident statement is on")
        incident.add_metric([], 1 if self.board.incident else 0)
        peak = GaugeMetricFamily("ivr_peak_window", "1 while the peak schedule is open")
        peak.add_metric([], 1 if self.board.peak else 0)
        return [waiting, longest, agents, today, sl, abandon, overflow, callbacks, incident, peak]


class _CounterCollector(Collector):
    def __init__(self, voicemail_lost: dict[str, int], task_deaths: dict[str, int],
                 unreachable: dict[str, int] | None = None) -> None:
        self.voicemail_lost = voicemail_lost
        self.task_deaths = task_deaths
        self.unreachable = unreachable or {}

    def collect(self) -> list[CounterMetricFamily]:
        lost = CounterMetricFamily("ivr_voicemail_lost", "Voicemail messages that could not be saved, by reason",
                                   labels=["reason"])
        for reason in sorted(set(VOICEMAIL_LOST_REASONS) | set(self.voicemail_lost)):
            lost.add_metric([reason], self.voicemail_lost.get(reason, 0))
        deaths = CounterMetricFamily("ivr_background_task_deaths", "Background tasks of ivr serve and the "
                                     "dashboard that died (each restarted with backoff)", labels=["task"])
        for task in sorted(self.task_deaths):
            deaths.add_metric([task], self.task_deaths[task])
        unreachable = CounterMetricFamily("ivr_transcribe_recording_unreachable", "Transcription jobs whose "
                                          "recording the worker's host could not read", labels=["host"])
        for host in sorted(self.unreachable):
            unreachable.add_metric([host], self.unreachable[host])
        return [lost, deaths, unreachable]


class _LeaderCollector(Collector):
    """Which `ivr serve` holds the leader lease (AMI listener writes, callback dialer); none: nobody."""

    def __init__(self, holder: str | None) -> None:
        self.holder = holder

    def collect(self) -> list[GaugeMetricFamily]:
        leader = GaugeMetricFamily("ivr_leader", "1 for the node holding the leader lease", labels=["node"])
        if self.holder:
            leader.add_metric([self.holder], 1)
        return [leader]


async def _counts(svc: Svc, key: str) -> dict[str, int]:
    raw = await svc.redis.hgetall(key)
    return {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in raw.items()}


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/metrics", tags=["live"], summary="Prometheus metrics: queues and service level",
                response_class=Response)
    async def metrics(svc: Svc) -> Response:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_BoardCollector(await wallboard(svc).board()))
        registry.register(_CounterCollector(await _counts(svc, keys.VOICEMAIL_LOST),
                                            await _counts(svc, keys.TASK_DEATHS),
                                            await _counts(svc, keys.TRANSCRIBE_UNREACHABLE)))
        holder = await svc.redis.get(keys.LEADER)
        registry.register(_LeaderCollector(holder.decode() if isinstance(holder, bytes) else holder))
        registry.register(LiveQaCollector(await _counts(svc, keys.LIVEQA_COUNTS),
                                          await svc.redis.hgetall(keys.LIVEQA_LOAD), time.time()))
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
