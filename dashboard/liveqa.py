"""Live QA on the dashboard: recent alerts pushed to the wallboard and the live-calls page, a
supervisor's listen / whisper on an alert's call, and the /metrics families of `ivr liveqa`.

Alerts are written by `ivr liveqa` (ivr.liveqa.alerts) into one Redis list; a Hub polls it every
0.2 s while a browser listens and pushes it when it changed, as the wallboard does (dashboard.hub).
Acting on an alert starts the monitor of dashboard.live_calls (audited as `monitor` there) and is
written on the call's record and in the audit log as `liveqa`. Its routes are dashboard.routes.liveqa.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from fastapi import HTTPException
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from dashboard.deps import Services
from dashboard.hub import Hub
from dashboard.live_calls import start_monitor
from dashboard.sessions import Session
from ivr import keys
from ivr.liveqa.alerts import acted_ops, find, recent
from ivr.liveqa.capacity import DEGRADE_REASONS
from ivr.state.ops import apply_ops
from ivr.tasks import TaskSupervisor

MODES = ("listen", "whisper")  # what an alert offers in one click (barge stays on the live-calls page)
LOAD_FRESH_S = 15.0  # a liveqa process writes its load every 2 s: older means it is gone


class LiveQaAlerts:
    def __init__(self, svc: Services, poll_interval: float = 0.2) -> None:
        self.svc = svc
        self.hub = Hub(self.snapshot, interval=poll_interval)

    async def snapshot(self) -> dict[str, Any]:
        alerts = await recent(self.svc.redis, keys.liveqa_alerts_ttl_s(self.svc.settings))
        return {"at": time.time(), "alerts": [a.model_dump() for a in alerts]}

    def start(self, tasks: TaskSupervisor) -> None:
        self.hub.start(tasks, name="liveqa-hub")

    def stop(self) -> None:
        self.hub.stop()


def liveqa_alerts(svc: Services) -> LiveQaAlerts:
    alerts: LiveQaAlerts = svc.extra["liveqa"]
    return alerts


async def act(svc: Services, session: Session, alert_id: str, mode: str) -> str:
    """Ring the supervisor's phone to `mode` on the alert's agent; audited and on the call record."""
    if mode not in MODES:
        raise HTTPException(400, f"mode {mode[:20]!r}: one of {', '.join(MODES)}")
    alert = await find(svc.redis, alert_id[:40])
    if alert is None:
        raise HTTPException(404, f"live QA alert {alert_id[:40]!r}: not among the recent alerts")
    detail = {"alert": alert.id, "kind": alert.kind, "phrase": alert.phrase, "agent": alert.agent, "mode": mode}
    try:
        message = await start_monitor(svc, session, mode, alert.agent)
    except HTTPException as exc:
        await svc.audit.record(session.user, session.role, "liveqa", alert.call_id, **detail, ok=False,
                               error=str(exc.detail))
        raise
    await svc.audit.record(session.user, session.role, "liveqa", alert.call_id, **detail, ok=True)
    await apply_ops(svc.redis, acted_ops(alert, session.user, mode, svc.settings, time.time()))
    return message


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class LiveQaCollector(Collector):
    """`ivr liveqa`'s counters and each running process's load, for /metrics."""

    def __init__(self, counts: dict[str, int], load: Mapping[Any, Any], now: float) -> None:
        self.counts, self.now = counts, now
        self.load = {_text(k): _text(v) for k, v in load.items()}

    def collect(self) -> list[CounterMetricFamily | GaugeMetricFamily]:
        alerts = CounterMetricFamily("ivr_liveqa_alerts", "Live QA alerts raised, by kind", labels=["kind"])
        kinds = {"forbidden_phrase", "no_greeting"} | {k[7:] for k in self.counts if k.startswith("alerts:")}
        for kind in sorted(kinds):
            alerts.add_metric([kind], self.counts.get(f"alerts:{kind}", 0))
        streamed = CounterMetricFamily("ivr_liveqa_calls_streamed", "Calls streamed to live QA")
        streamed.add_metric([], self.counts.get("streamed", 0))
        degraded = CounterMetricFamily("ivr_liveqa_calls_degraded", "Calls of a live QA queue left to post-call "
                                       "QA only, by reason", labels=["reason"])
        for reason in DEGRADE_REASONS:
            degraded.add_metric([reason], self.counts.get(f"degraded:{reason}", 0))
        calls = GaugeMetricFamily("ivr_liveqa_calls", "Calls each live QA process streams now", labels=["node"])
        capacity = GaugeMetricFamily("ivr_liveqa_capacity", "Calls each live QA process may stream at once",
                                     labels=["node"])
        for node, raw in sorted(self.load.items()):
            try:
                load = json.loads(raw)
            except ValueError:
                continue
            if self.now - float(load.get("at", 0)) <= LOAD_FRESH_S:
                calls.add_metric([node], int(load.get("calls", 0)))
                capacity.add_metric([node], int(load.get("capacity", 0)))
        return [alerts, streamed, degraded, calls, capacity]
