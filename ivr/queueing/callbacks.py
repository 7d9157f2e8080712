"""Queued callbacks: a waiting caller presses a key, hangs up, and keeps their place.

The request keeps the ORIGINAL queue-entry time as its score in a per-queue zset, so when the dialer
(agent first, then the customer) asks what is due, a callback sorts exactly where the caller would
have been. One open callback per number: a second request returns the first (atomic, in Lua).
Callbacks are due only while the callback schedule is open (policy: 09:00-12:00 and 15:00-18:00);
outside it they wait for the next window. Every dial attempt is recorded; attempts that reached
the customer's phone are bounded by `max_attempts` (an agent who did not answer costs the customer
nothing: they were never dialled). Given the numbering plan, `request` refuses what a callback may
not dial; `fail` ends a stored callback that cannot be dialled (one booked before the plan existed)
without a dial, with the reason on the record.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable
from datetime import datetime
from typing import Any, Literal, TypeVar

import redis.asyncio
from pydantic import BaseModel, ConfigDict, ValidationError

from ivr import keys
from ivr.queueing.callback_lua import ATTEMPT, CLAIM, FAIL, REQUEST
from ivr.queueing.numbers import BadNumber, NumberingPlan, normalize_number
from ivr.schedule import Schedule, next_open, schedule_status

T = TypeVar("T")
Status = Literal["pending", "dialing", "done", "failed", "cancelled"]
Outcome = Literal["answered", "agent_no_answer", "customer_no_answer", "customer_busy", "failed"]
NOT_COUNTED: frozenset[str] = frozenset({"agent_no_answer"})

class CallbackRequest(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str
    queue: str
    number: str  # normalized (ivr.queueing.numbers)
    call_id: str
    enqueued_at: float  # when the caller first entered the queue: their place
    requested_at: float
    status: Status
    attempts: int  # attempts that dialled the customer
    max_attempts: int
    retry_delay_s: float
    next_attempt_at: float
    claimed_until: float = 0.0
    dial_token: str | None = None  # the claim's token while dialing: who may record the attempt
    dialed_by: str | None = None  # the node that claimed it last
    last_outcome: Outcome | None = None
    finished_at: float | None = None
    failed_reason: str | None = None  # why it was failed without a dial (e.g. "emergency")


class NumberRefused(BadNumber):
    """The numbering plan does not let a callback dial this number; `reason` is the rule's name."""

    def __init__(self, number: str | None, reason: str) -> None:
        self.number, self.reason = number, reason
        super().__init__(f"callbacks may not dial this number: {reason}")


class Unreadable(BaseModel):
    """A stored callback that does not decode (written by another version, or damaged)."""

    model_config = ConfigDict(frozen=True)
    id: str
    queue: str
    error: str


class Duplicate(BaseModel):
    """A second request from a number with an open callback: nothing new was created."""

    model_config = ConfigDict(frozen=True)
    existing: CallbackRequest


class CallbackError(RuntimeError):
    """Redis did not answer in time, or a callback id is unknown."""


class CallbackStore:
    def __init__(self, redis: redis.asyncio.Redis, *, timeout: float = 2.0,
                 ttl_s: int = keys.DEFAULT_CALL_RECORD_TTL_S, country_code: str = "86",
                 plan: NumberingPlan | None = None) -> None:
        """`ttl_s`: keys.call_record_ttl_s(settings), how long a finished callback is kept."""
        self._redis = redis
        self._country_code = country_code
        self._plan = plan
        self._timeout = timeout
        self._ttl_s = ttl_s  # finished callbacks are kept as long as call records

    async def _t(self, aw: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(aw, self._timeout)
        except TimeoutError as exc:
            raise CallbackError(f"Redis did not answer within {self._timeout} s") from exc

    async def request(self, queue: str, number: str, call_id: str, enqueued_at: float, now: datetime,
                      *, max_attempts: int = 3, retry_delay_s: float = 600) -> CallbackRequest | Duplicate:
        """Register a callback to `number` (caller ID or keyed in), or return that number's open one.

        Raises BadNumber for an anonymous or malformed number: there is nothing to call back; with a
        plan, NumberRefused (a BadNumber) for a number the plan does not let a callback dial.
        """
        if self._plan is not None:
            verdict = self._plan.check(number, self._country_code)
            if verdict.reason is not None or verdict.number is None:
                raise NumberRefused(verdict.number, verdict.reason or "no_number")
            number = verdict.number
        number = normalize_number(number, self._country_code)
        cb_id = uuid.uuid4().hex
        ts = now.timestamp()
        fields: dict[str, Any] = {
            "id": cb_id, "queue": queue, "number": number, "call_id": call_id, "enqueued_at": enqueued_at,
            "requested_at": ts, "status": "pending", "attempts": 0, "max_attempts": max_attempts,
            "retry_delay_s": retry_delay_s, "next_attempt_at": ts, "claimed_until": 0.0,
        }
        flat = [x for k, v in fields.items() for x in (k, json.dumps(v))]
        ks = [keys.callback_by_number(number), keys.callback(cb_id), keys.callback_queue(queue)]
        got = await self._t(self._redis.eval(REQUEST, 3, *ks, cb_id, repr(enqueued_at), *flat))
        got_id = got.decode() if isinstance(got, bytes) else str(got)
        if got_id == cb_id:
            return CallbackRequest.model_validate(fields)
        return Duplicate(existing=await self.get(got_id))

    async def get(self, callback_id: str) -> CallbackRequest:
        raw = await self._t(self._redis.hgetall(keys.callback(callback_id)))
        if not raw:
            raise CallbackError(f"unknown callback {callback_id!r}")
        return _decode(raw)

    async def due(self, queue: str, now: datetime, schedule: Schedule, override: str | None = None,
                  limit: int = 50) -> list[CallbackRequest | Unreadable]:
        """Callbacks to dial now, in queue order; empty outside the callback schedule's open hours.

        A record that does not decode comes back as Unreadable, in its place: the caller fails it."""
        if schedule_status(schedule, now, override) != "open":
            return []
        ids = await self._t(self._redis.zrange(keys.callback_queue(queue), 0, -1))
        pipe = self._redis.pipeline(transaction=False)
        for cb_id in ids:
            pipe.hgetall(keys.callback(_text(cb_id)))
        ts, out = now.timestamp(), list[CallbackRequest | Unreadable]()
        for cb_id, raw in zip(ids, await self._t(pipe.execute()), strict=True):
            if not raw:
                continue
            try:
                cb = _decode(raw)
            except (ValueError, ValidationError) as exc:  # json errors are ValueErrors too
                out.append(Unreadable(id=_text(cb_id), queue=queue, error=str(exc)[:300]))
                continue
            if (cb.status == "pending" and cb.next_attempt_at <= ts) or (
                    cb.status == "dialing" and cb.claimed_until < ts):
                out.append(cb)
                if len(out) >= limit:
                    break
        return out

    @staticmethod
    def next_window(schedule: Schedule, now: datetime) -> datetime | None:
        """When callbacks may next be dialled (now if the schedule is open)."""
        return next_open(schedule, now)

    async def claim(self, callback_id: str, now: datetime, lease_s: float = 300, *, token: str = "",
                    node: str = "", lease_key: str = "") -> str | None:
        """Take a due callback for dialling: the claim's token (pass it to record_attempt), or None when
        another dialer has it, it is not due, or (`lease_key`) this `node` does not hold the lease."""
        ts = now.timestamp()
        token = token or uuid.uuid4().hex
        got = await self._t(self._redis.eval(CLAIM, 2, keys.callback(callback_id), lease_key, ts, ts + lease_s,
                                             token, node))
        return token if got else None

    async def record_attempt(self, callback_id: str, outcome: Outcome, now: datetime,
                             detail: dict[str, Any] | None = None, token: str = "") -> Status | None:
        """Record one dial attempt; returns the new status (done, failed after max_attempts, or pending).

        With the claim's `token`: None when that dial was recorded already (by another node)."""
        ts = now.timestamp()
        attempt = json.dumps({"at": ts, "outcome": outcome, **(detail or {})}, ensure_ascii=False)
        counts = "0" if outcome in NOT_COUNTED else "1"
        cb = await self.get(callback_id)
        ks = [keys.callback(callback_id), keys.callback_attempts(callback_id), keys.callback_queue(cb.queue),
              keys.callback_by_number(cb.number), keys.CALLBACKS_FINISHED]
        got = await self._t(self._redis.eval(
            ATTEMPT, 5, *ks, attempt, ts, counts, outcome, self._ttl_s, callback_id, token))
        if got is None:
            raise CallbackError(f"unknown callback {callback_id!r}")
        status: Status | Literal["stale"] = json.loads(got)
        return None if status == "stale" else status

    async def fail(self, callback_id: str, queue: str, reason: str, now: datetime,
                   number: str | None = None) -> Status:
        """End an open callback that cannot be dialled, without claiming it; `reason` goes on the record."""
        ks = [keys.callback(callback_id), keys.callback_queue(queue),
              keys.callback_by_number(number) if number else "", keys.CALLBACKS_FINISHED]
        got = await self._t(self._redis.eval(FAIL, 4, *ks, now.timestamp(), json.dumps(reason), self._ttl_s,
                                             callback_id))
        if got is None:  # no record at all: only the queue's entry is left
            await self._t(self._redis.zrem(keys.callback_queue(queue), callback_id))
            return "failed"
        status: Status = json.loads(got)
        return status

    async def attempts(self, callback_id: str) -> list[dict[str, Any]]:
        raw = await self._t(self._redis.lrange(keys.callback_attempts(callback_id), 0, -1))
        return [json.loads(x) for x in raw]

    async def complete(self, callback_id: str, now: datetime) -> Status:
        """The customer was served (e.g. the dialer bridged them): same as an answered attempt."""
        status = await self.record_attempt(callback_id, "answered", now, {"via": "complete"})
        assert status is not None  # no token: never stale
        return status


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode(raw: dict[Any, Any]) -> CallbackRequest:
    data = {_text(k): json.loads(v) for k, v in raw.items()}
    return CallbackRequest.model_validate(data)
