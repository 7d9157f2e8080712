"""Call records: `CallRecorder` writes one call (never raising into it), `CallStore` reads them.

Layout (see ivr/keys.py): hash `ivr:call:<id>` field -> JSON, list `ivr:call:<id>:events`,
zset `ivr:calls` scored by start epoch. Writes go through the process's `RecordWriter`, which
sets the TTL on every key it touches.
"""

from __future__ import annotations

import builtins
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from ivr import keys
from ivr.state.ops import HIncr, HSet, RPush, ZAdd, dumps
from ivr.state.writer import RecordWriter

__all__ = ["CallRecorder", "CallStore", "RecordWriter"]

log = logging.getLogger(__name__)


class CallRecorder:
    """Records one call. Every method is synchronous, non-blocking and never raises."""

    def __init__(self, writer: RecordWriter, *, now: Callable[[], float] = time.time) -> None:
        self._writer = writer
        self._now = now
        self.call_id: str | None = None
        self._start: float | None = None

    def start(
        self,
        call_id: str,
        *,
        caller: str,
        called: str,
        flow: str,
        flow_version: str,
        language: str,
        channel: str,
    ) -> None:
        try:
            self.call_id, self._start = call_id, self._now()
            fields = {
                "call_id": call_id, "caller": caller, "called": called, "flow": flow,
                "flow_version": flow_version, "language": language, "channel": channel,
                "start": self._start,
            }
            self._writer.submit([
                HSet(keys.call(call_id), {k: dumps(v) for k, v in fields.items()}),
                ZAdd(keys.CALLS_INDEX, call_id, self._start),
            ])
        except Exception:
            log.exception("call record: start(%s) failed", call_id)

    def event(self, kind: str, **data: Any) -> None:
        """Append {"t": epoch, "kind": kind, **data} to the call's event list."""
        if self.call_id is None:
            log.warning("call record: event %r before start(); dropped", kind)
            return
        try:
            payload = {"t": self._now(), "kind": kind, **data}
            self._writer.submit([RPush(keys.call_events(self.call_id), dumps(payload))])
        except Exception:
            log.exception("call record %s: event %r failed", self.call_id, kind)

    def set(self, field: str, value: Any) -> None:
        self.set_many({field: value})

    def set_many(self, fields: dict[str, Any]) -> None:
        if self.call_id is None:
            log.warning("call record: set %s before start(); dropped", sorted(fields))
            return
        try:
            mapping = {k: dumps(v) for k, v in fields.items()}
            self._writer.submit([HSet(keys.call(self.call_id), mapping)])
        except Exception:
            log.exception("call record %s: set %s failed", self.call_id, sorted(fields))

    def count(self, key: str, field: str) -> None:
        """Adds 1 to the process-wide counter `key` (a hash, ivr/keys.py) under `field`; buffered
        like the record itself, so it is counted once Redis is back."""
        try:
            self._writer.submit([HIncr(key, field, 1)])
        except Exception:
            log.exception("counter %s[%s]: increment failed", key, field)

    def finish(self, outcome: str) -> None:
        """Sets outcome, end and duration (seconds)."""
        end = self._now()
        duration = round(end - self._start, 3) if self._start is not None else None
        self.set_many({"outcome": outcome, "end": end, "duration": duration})


def _decode(raw: dict[bytes | str, bytes | str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in raw.items():
        key = k.decode() if isinstance(k, bytes) else k
        try:
            out[key] = json.loads(v)
        except ValueError:
            # Another writer may have stored a plain string; show it rather than fail the read.
            out[key] = v.decode(errors="replace") if isinstance(v, bytes) else v
    return out


class CallStore:
    """Reads call records (dashboard, CLI). Raises redis errors: readers are not in a call."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def get(self, call_id: str) -> dict[str, Any] | None:
        """Hash fields decoded plus "events" (list, in order); None if no such record."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.call(call_id))
        pipe.lrange(keys.call_events(call_id), 0, -1)
        raw, events = await pipe.execute()
        if not raw and not events:
            return None
        record = _decode(raw)
        record.setdefault("call_id", call_id)
        record["events"] = [json.loads(e) for e in events]
        return record

    async def list(
        self, since: float | None = None, until: float | None = None, limit: int = 100
    ) -> builtins.list[dict[str, Any]]:
        """Records started in [since, until], newest first, without events."""
        ids = await self.redis.zrevrangebyscore(
            keys.CALLS_INDEX,
            "+inf" if until is None else until,
            "-inf" if since is None else since,
            start=0,
            num=limit,
        )
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for call_id in ids:
            pipe.hgetall(keys.call(call_id.decode() if isinstance(call_id, bytes) else str(call_id)))
        rows = await pipe.execute()
        # An index entry can outlive its hash by a little (TTL): skip those.
        return [_decode(raw) for raw in rows if raw]
