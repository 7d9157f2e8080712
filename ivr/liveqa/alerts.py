"""Live QA alerts: what a hit becomes, where it is written, and how the dashboard reads them.

One alert is written in one MULTI: at the head of keys.LIVEQA_ALERTS (the wallboard and the
live-calls page poll it, dashboard.liveqa), counted in keys.LIVEQA_COUNTS (/metrics), and on the
call's record as a `liveqa_alert` event (the call's review shows it; the records mover copies it
into SQL with the call). A supervisor acting on it (listen / whisper) is a `liveqa_acted` event
on the record and an audit entry (dashboard.routes.liveqa).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, Field, ValidationError

from ivr import keys
from ivr.liveqa.matcher import Hit
from ivr.settings import Settings
from ivr.state.ops import Expire, HIncr, Op, PushCapped, RPush, ZAdd, apply_ops, dumps

KEEP_ALERTS = 200  # the wallboard shows the newest; older ones are on the call records


class Alert(BaseModel):
    id: str = Field(default_factory=lambda: secrets.token_hex(8))
    at: float  # epoch seconds the alert was written
    call_id: str
    queue: str
    agent: str
    kind: str  # forbidden_phrase | no_greeting
    leg: str
    phrase: str
    t: float  # seconds into the stream (the bridged call): where the phrase ended, or for a hit in a
    # partial result (no word times) where decoding was when it was recognised (it ended by then)
    delay_s: float  # `at` minus when the phrase ended (the stream's start + t): the detection time
    line: int = 0
    # Of delay_s, how far decoding was behind the call's audio when the hit came out: the rest is the
    # recognizer settling on the words (it writes a word some time after it was said)
    behind_s: float = 0.0

    @classmethod
    def of(cls, hit: Hit, call_id: str, queue: str, agent: str, stream_started: float, now: float,
           decoded_s: float) -> Alert:
        return cls(at=now, call_id=call_id, queue=queue, agent=agent, kind=hit.kind, leg=hit.leg,
                   phrase=hit.phrase, t=round(hit.end_s, 3), line=hit.line,
                   delay_s=round(now - (stream_started + hit.end_s), 3),
                   behind_s=round(max(0.0, now - stream_started - decoded_s), 3))

    def event(self) -> dict[str, Any]:
        return {"t": self.at, "kind": "liveqa_alert", "alert": self.model_dump()}


def publish_ops(alert: Alert, settings: Settings) -> list[Op]:
    record_ttl = keys.call_record_ttl_s(settings)
    return [
        PushCapped(keys.LIVEQA_ALERTS, alert.model_dump_json(), KEEP_ALERTS),
        Expire(keys.LIVEQA_ALERTS, keys.liveqa_alerts_ttl_s(settings)),
        HIncr(keys.LIVEQA_COUNTS, f"alerts:{alert.kind}"),
        RPush(keys.call_events(alert.call_id), dumps(alert.event())),
        Expire(keys.call_events(alert.call_id), record_ttl),
        ZAdd(keys.RECORDS_PENDING, alert.call_id, alert.at),  # a call already moved is copied again
    ]


async def publish(redis: aioredis.Redis, alert: Alert, settings: Settings, timeout_s: float = 2.0) -> None:
    await asyncio.wait_for(apply_ops(redis, publish_ops(alert, settings)), timeout_s)


async def recent(redis: aioredis.Redis, max_age_s: float, now: float | None = None) -> list[Alert]:
    """Alerts of the last `max_age_s`, newest first (an entry that does not parse is skipped)."""
    now = time.time() if now is None else now
    out: list[Alert] = []
    for raw in await redis.lrange(keys.LIVEQA_ALERTS, 0, KEEP_ALERTS - 1):
        try:
            alert = Alert.model_validate(json.loads(raw))
        except (ValueError, ValidationError):
            continue
        if now - alert.at <= max_age_s:
            out.append(alert)
    return out


async def find(redis: aioredis.Redis, alert_id: str) -> Alert | None:
    for alert in await recent(redis, float("inf")):
        if alert.id == alert_id:
            return alert
    return None


def acted_ops(alert: Alert, user: str, mode: str, settings: Settings, now: float) -> list[Op]:
    """A supervisor acted on `alert` (listen / whisper): an event on the call's record."""
    event = {"t": now, "kind": "liveqa_acted", "alert_id": alert.id, "by": user, "mode": mode,
             "phrase": alert.phrase, "alert_kind": alert.kind}
    return [RPush(keys.call_events(alert.call_id), dumps(event)),
            Expire(keys.call_events(alert.call_id), keys.call_record_ttl_s(settings)),
            ZAdd(keys.RECORDS_PENDING, alert.call_id, now)]
