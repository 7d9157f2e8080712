"""The callback dialer: places queued callbacks, agent first, then the customer, in callback hours only.

Every `poll_s` it asks CallbackStore for each queue's due callbacks (empty outside the queue's
callback schedule, e.g. 09:00-12:00 and 15:00-18:00, with the manual override honoured). A callback
is dialled only when it is at the head of the line: no caller still waiting entered the queue
before it (its score is the caller's ORIGINAL entry time), and no VIP or urgent caller is waiting
(QueueStatus). Then, for the first idle staffed agent (same reply), AMI Originate rings the agent's phone for
"3 rings" into the dialplan context `ivr-callback`, which dials the customer (IVR_CALLBACK_DIAL with
{number}) and reports the outcome with UserEvent(IvrCallback). Each attempt is recorded in the store
(bounded retries: CallbackStore) and on the original call record (`callback_attempt` events, the
number masked as supervisors see it: the raw number stays in the callback store, where it is dialled).
Nothing is claimed that cannot be dialled: a callback the numbering plan refuses (booked before the
plan, or the plan changed) or whose record does not decode is failed with its reason, counted, and the
tick goes on; so does it after any other failure of one callback. Only a lost AMI connection ends a tick.
One dial at a time per dialer: bounded load, and an agent is never offered two callbacks at once.
The AMI side (the connection, QueueStatus, the Originate and its outcome) is ivr.queueing.dial_ami.

Several nodes: only the leader dials (ivr.state.lease; the claim itself checks the lease in Redis).
Each claim carries a token and only that token records the attempt, so a dial is recorded once. A
dial whose node died (or lost the lease) mid-call is an orphan: its outcome reaches the new leader's
AMI listener as the same UserEvent(IvrCallback) (`on_user_event` records it with the orphan's token),
and an orphan whose claim ran out without any outcome is recorded as a failed attempt ("outcome
unknown") and retried after retry_delay_s like any failed attempt. A claimed callback is never
claimed again while its claim runs: no callback is dialled twice at once, or again after an answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis

from ivr import keys
from ivr.clock import Clock, WallTime
from ivr.privacy.masking import mask_number
from ivr.queueing.ami import AmiError
from ivr.queueing.callbacks import CallbackError, CallbackRequest, CallbackStore, Outcome, Unreadable
from ivr.queueing.dial_ami import CUSTOMER_STATUS, REDIS_TIMEOUT, CallbackAmi
from ivr.queueing.live import callback_ops
from ivr.queueing.model import QueueConfig
from ivr.queueing.pbx import ring_cycle
from ivr.schedule import Schedule, read_override
from ivr.settings import Settings
from ivr.state.lease import LeaderLease
from ivr.state.ops import HSet, RPush, apply_ops, dumps
from ivr.state.redis import RedisGetter
from ivr.state.writer import RecordWriter

log = logging.getLogger(__name__)


def dial_string(template: str, number: str) -> str:
    """IVR_CALLBACK_DIAL with the number filled in; refuses what would split Originate's variables."""
    if not number.isdigit():
        raise ValueError(f"callback number {number!r} is not digits only")
    out = template.replace("{number}", number)
    if any(c in out for c in ",|\r\n "):
        raise ValueError(f"callback dial string {out!r} may not contain , | or whitespace")
    return out


class CallbackDialer:
    def __init__(self, settings: Settings, cfg: QueueConfig, schedules: dict[str, Schedule], clock: Clock,
                 redis: RedisGetter, writer: RecordWriter | None = None, *, wall: WallTime = time.time,
                 lease: LeaderLease | None = None) -> None:
        """`clock`: when callbacks may be dialled (the callback schedule); `wall`: event times and the
        day of the counters, shared with the AMI listener; `lease`: dial only while holding it."""
        self.settings, self.cfg, self.schedules, self.clock = settings, cfg, schedules, clock
        self.wall = wall
        self.ttl_s = keys.call_record_ttl_s(settings)
        self.redis = redis
        self.writer = writer
        self.lease = lease
        self.poll_s = settings.callback_poll_s
        self.ring_s = cfg.ring_timeout_s(ring_cycle(cfg, settings))  # agent and customer: "3 rings" each
        self.ami = CallbackAmi(settings, cfg.agents, self.ring_s, wall)
        self.attempts = 0
        self.failed_undialable = 0  # failed without a dial: refused by the plan, or unreadable
        self.errors = 0  # callbacks whose handling raised; the tick went on with the others
        self.orphans = 0  # dials of a node that stopped, recorded here (outcome heard, or unknown)

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.tick()
                except (AmiError, CallbackError, OSError) as exc:
                    log.warning("callback dialer: %s", exc)
                    self.ami.close()
                except Exception:
                    log.exception("callback dialer: tick failed")
                await asyncio.sleep(self.poll_s)
        finally:
            self.ami.close()

    async def tick(self) -> int:
        """Dial what is due now; returns the number of attempts made."""
        redis = await self.redis()
        if redis is None or not self._leading():
            return 0
        made = 0
        store = CallbackStore(redis, ttl_s=self.ttl_s, country_code=self.cfg.country_code)
        for name, q in self.cfg.queues.items():
            schedule = self.schedules.get(q.callback.schedule)
            if not q.callback.enabled or schedule is None:
                continue
            override = await read_override(q.callback.schedule, redis)
            for cb in await store.due(name, self.clock.now(), schedule, override, limit=20):
                try:
                    step = await self._one(redis, store, name, cb)
                except (AmiError, OSError):
                    raise  # the AMI or Redis link is gone: run() reconnects, the next tick retries
                except Exception:
                    self.errors += 1
                    log.exception("callback dialer: callback %s of queue %s failed; going on", cb.id, name)
                    continue
                if step == "blocked":
                    break
                made += step == "dialled"
        return made

    async def _one(self, redis: aioredis.Redis, store: CallbackStore, queue: str,
                   cb: CallbackRequest | Unreadable) -> str:
        """One due callback: "dialled", "failed" (cannot be dialled), "skipped" or "blocked" (not its turn)."""
        if isinstance(cb, Unreadable):
            await self._fail_undialable(redis, store, queue, cb.id, None, f"unreadable: {cb.error}")
            return "failed"
        if cb.status == "dialing":  # its claim ran out with no outcome: the dialing node stopped
            await self._orphan(redis, store, cb, "failed", {"reason": "outcome unknown: the dialing node stopped"})
            return "skipped"
        dial, reason = self.dialable(cb.number)
        if dial is None:
            await self._fail_undialable(redis, store, queue, cb.id, cb, reason)
            return "failed"
        waiting, agent = await self.ami.line(redis, queue)
        # The callback keeps its place: nobody who entered before it, and no VIP, still waits.
        if agent is None or any(prio > 0 or since < cb.enqueued_at for since, prio in waiting):
            return "blocked"
        if not self._leading():
            return "blocked"
        lease_key, node = (self.lease.key, self.lease.node) if self.lease is not None else ("", "")
        token = await store.claim(cb.id, self.clock.now(), lease_s=self.ring_s * 2 + 60, node=node,
                                  lease_key=lease_key)
        if token is None:
            return "skipped"
        await self._attempt(redis, store, cb, agent, dial, token)
        return "dialled"

    def _leading(self) -> bool:
        return self.lease is None or self.lease.leading

    async def on_user_event(self, e: dict[str, str]) -> None:
        """UserEvent(IvrCallback) heard by the leader's AMI listener: the outcome of an orphan's dial."""
        cb_id = str(e.get("Id", ""))
        if str(e.get("UserEvent", "")) != "IvrCallback" or not cb_id or self.ami.ours(cb_id):
            return  # not a callback, or our own dial in progress (its outcome comes on our connection)
        redis = await self.redis()
        if redis is None:
            return
        store = CallbackStore(redis, ttl_s=self.ttl_s, country_code=self.cfg.country_code)
        try:
            cb = await store.get(cb_id)
        except CallbackError:
            return
        if cb.status == "dialing" and cb.dial_token:
            status = str(e.get("Status", "")).upper()
            await self._orphan(redis, store, cb, CUSTOMER_STATUS.get(status, "failed"), {"dialstatus": status})

    def dialable(self, number: str) -> tuple[str | None, str]:
        """(the dial string, "") when the numbering plan lets a callback dial `number`, else (None, reason)."""
        plan = self.cfg.callback_numbers
        if plan is None:
            return None, "no numbering plan (queues.yaml callback_numbers)"
        verdict = plan.check(number, self.cfg.country_code)
        if verdict.reason is not None or verdict.number is None:
            return None, verdict.reason or "no_number"
        try:
            return dial_string(self.settings.callback_dial, plan.dial_digits(verdict.number)), ""
        except ValueError as exc:
            return None, str(exc)

    def masked_dial(self, number: str) -> str:
        """The dial string as supervisors may see it (ivr.privacy.masking.mask_number)."""
        plan = self.cfg.callback_numbers
        digits = plan.dial_digits(number) if plan is not None else number
        return self.settings.callback_dial.replace("{number}", str(mask_number(digits)))

    async def _fail_undialable(self, redis: aioredis.Redis, store: CallbackStore, queue: str, cb_id: str,
                               cb: CallbackRequest | None, reason: str) -> None:
        status = await store.fail(cb_id, queue, reason, self.clock.now(), cb.number if cb else None)
        self.failed_undialable += 1
        log.warning("callback %s (queue %s) cannot be dialled (%s): %s", cb_id, queue, reason, status)
        await self._count(redis, queue, "failed")
        if cb is not None and self.writer is not None:
            event = {"t": self.wall(), "kind": "callback_failed", "callback": cb_id, "reason": reason,
                     "status": status}
            self.writer.submit([RPush(keys.call_events(cb.call_id), dumps(event)),
                                HSet(keys.call(cb.call_id), {"callback_status": dumps(status)})])

    def _day(self) -> str:
        return datetime.fromtimestamp(self.wall(), ZoneInfo(self.settings.timezone)).date().isoformat()

    async def _count(self, redis: aioredis.Redis, queue: str, what: str) -> None:
        """Today's callback counter; best effort (the callback itself is already recorded)."""
        try:
            ops = callback_ops(queue, self._day(), what, ttl_s=self.ttl_s)
            await asyncio.wait_for(apply_ops(redis, ops), REDIS_TIMEOUT)
        except Exception as exc:  # Redis slow or gone: the wallboard misses one count, the dialer goes on
            log.warning("callback dialer: %s counter of queue %s not written (%s)", what, queue, exc)

    async def _orphan(self, redis: aioredis.Redis, store: CallbackStore, cb: CallbackRequest, outcome: Outcome,
                      detail: dict[str, Any]) -> None:
        """Record the attempt of a dial another node (or our restarted task) made; once, by its token."""
        detail = {**detail, "dialed_by": cb.dialed_by, "recorded_by": self.lease.node if self.lease else ""}
        status = await store.record_attempt(cb.id, outcome, self.clock.now(), detail, token=cb.dial_token or "-")
        if status is None:
            return  # recorded already
        self.orphans += 1
        log.warning("callback %s (queue %s) dialled by %s, which stopped: %s -> %s", cb.id, cb.queue,
                    cb.dialed_by, outcome, status)
        await self._recorded(redis, cb, outcome, status, detail)

    async def _attempt(self, redis: aioredis.Redis, store: CallbackStore, cb: CallbackRequest, agent: str,
                       dial: str, token: str) -> None:
        self.attempts += 1
        started = time.monotonic()
        outcome, detail = await self.ami.dial(cb, agent, dial, self.masked_dial(cb.number))
        detail["took_s"] = round(time.monotonic() - started, 2)
        status = await store.record_attempt(cb.id, outcome, self.clock.now(), detail, token=token)
        if status is None:
            log.warning("callback %s: attempt recorded by another node already (%s here)", cb.id, outcome)
            return
        log.info("callback %s (queue %s) via agent %s: %s -> %s", cb.id, cb.queue, agent, outcome, status)
        await self._recorded(redis, cb, outcome, status, detail)

    async def _recorded(self, redis: aioredis.Redis, cb: CallbackRequest, outcome: Outcome, status: str,
                        detail: dict[str, Any]) -> None:
        """Counters and the original call record after an attempt was recorded."""
        if status in ("done", "failed"):
            await self._count(redis, cb.queue, "completed" if status == "done" else "failed")
        if self.writer is not None:
            event = {"t": self.wall(), "kind": "callback_attempt", "callback": cb.id, "outcome": outcome,
                     "status": status, **detail}
            self.writer.submit([RPush(keys.call_events(cb.call_id), dumps(event)),
                                HSet(keys.call(cb.call_id), {"callback_status": dumps(status)})])
