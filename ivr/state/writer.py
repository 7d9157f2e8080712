"""The process's single writer of call records: calls enqueue, one task writes.

Calls never wait on Redis. Operations go into a bounded queue; one background task moves them
into an ordered buffer and writes them in MULTI/EXEC pipelines. While Redis is down the buffer
keeps them (bounded: the oldest are dropped and counted) and they are flushed, in order, when
Redis is back. Every write of a call's hash also marks the call pending for the records database
(keys.RECORDS_PENDING, in the same transaction), so ivr.records.mover copies its latest version
into SQL and nothing written to a record is left behind there. Each batch is one transaction,
so a batch is applied whole or not at all and a retried batch does not duplicate list entries
(except in the rare case where the connection dies after EXEC was sent but before its reply arrived).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque

import redis.asyncio as aioredis

from ivr import keys
from ivr.state.ops import HSet, Op, RPush, ZAdd, add_to
from ivr.state.redis import UNAVAILABLE, RedisHub

log = logging.getLogger(__name__)


_CALL_HASH = keys.call("")


def _call_id_of(key: str) -> str | None:
    """The call id of a call's hash key (ivr:call:<id>), None for its event list or any other key."""
    if not key.startswith(_CALL_HASH) or key.endswith(":events"):
        return None
    return key[len(_CALL_HASH):]


class RecordWriter:
    def __init__(
        self,
        hub: RedisHub,
        ttl_seconds: int,
        *,
        queue_size: int = 10_000,
        buffer_limit: int = 100_000,
        batch_size: int = 500,
        retry_interval: float = 0.2,
        write_timeout: float = 2.0,
    ) -> None:
        self.hub = hub
        self.ttl_seconds = ttl_seconds
        self.batch_size = batch_size
        self.retry_interval = retry_interval
        self.write_timeout = write_timeout
        self._queue: asyncio.Queue[list[Op]] = asyncio.Queue(maxsize=queue_size)
        self._buffer: deque[Op] = deque()
        self._buffer_limit = buffer_limit
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._queued_ops = 0
        self._empty = asyncio.Event()  # set while nothing is pending: stop() waits on it
        self._empty.set()
        self.dropped = 0  # ops lost to overflow; exposed for metrics and tests
        self.written = 0

    @property
    def pending(self) -> int:
        """Ops not yet written (queued + buffered)."""
        return self._queued_ops + len(self._buffer)

    def submit(self, ops: list[Op]) -> None:
        """Enqueue ops for writing; never blocks, never raises."""
        if self._closed:
            self._count_drop(len(ops), "writer stopped")
            return
        try:
            self._queue.put_nowait(ops)
        except asyncio.QueueFull:
            self._count_drop(len(ops), "queue full")
            return
        self._queued_ops += len(ops)
        self._empty.clear()

    async def start(self) -> None:
        if self._task is None:
            self._closed = False
            self._task = asyncio.create_task(self._run(), name="record-writer")

    async def stop(self, flush_timeout: float = 5.0) -> None:
        """Stop accepting ops, try to write what is pending for up to `flush_timeout` seconds."""
        self._closed = True
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._empty.wait(), flush_timeout)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.pending:
            log.warning("record writer stopped with %d op(s) unwritten (Redis down?)", self.pending)

    def _count_drop(self, n: int, why: str) -> None:
        # Warn on the first loss and then every 10k, so an outage does not flood the log.
        before, self.dropped = self.dropped, self.dropped + n
        if before == 0 or before // 10_000 != self.dropped // 10_000:
            log.warning("call records: %d op(s) dropped so far (%s)", self.dropped, why)

    def _take(self, ops: list[Op]) -> None:
        self._queued_ops -= len(ops)
        for op in ops:
            if len(self._buffer) >= self._buffer_limit:
                self._buffer.popleft()
                self._count_drop(1, f"buffer full ({self._buffer_limit} ops)")
            self._buffer.append(op)

    def _drain_queue(self) -> None:
        while True:
            try:
                self._take(self._queue.get_nowait())
            except asyncio.QueueEmpty:
                return

    async def _idle(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            self._take(await asyncio.wait_for(self._queue.get(), seconds))

    async def _run(self) -> None:
        while True:
            if not self._buffer:
                self._take(await self._queue.get())
            self._drain_queue()
            client = await self.hub.client()
            if client is None:
                await self._idle(self.retry_interval)
                continue
            await self._flush_batch(client)

    async def _flush_batch(self, client: aioredis.Redis) -> None:
        batch = list(itertools.islice(self._buffer, self.batch_size))
        pipe = client.pipeline(transaction=True)
        expire: dict[str, None] = {}
        trim_index: set[str] = set()
        for op in batch:
            add_to(pipe, op)
            if isinstance(op, HSet | RPush):  # a record's hash or event list
                expire[op.key] = None
            elif isinstance(op, ZAdd):  # the index of records
                trim_index.add(op.key)
            # anything else (a counter: HIncr) is written as it is and keeps no TTL
        # Every touched key gets its TTL (re)set in the same transaction; the index is trimmed
        # to the same horizon so it never points at expired records for long.
        for key in expire:
            pipe.expire(key, self.ttl_seconds)
        for key in trim_index:
            pipe.zremrangebyscore(key, "-inf", time.time() - self.ttl_seconds)
        changed = [cid for cid in map(_call_id_of, expire) if cid is not None]
        if changed:
            now = time.time()
            pipe.zadd(keys.RECORDS_PENDING, dict.fromkeys(changed, now))
            # the same horizon as the records: an entry never outlives its record for long
            pipe.zremrangebyscore(keys.RECORDS_PENDING, "-inf", now - self.ttl_seconds)
        try:
            await asyncio.wait_for(pipe.execute(), self.write_timeout)
        except UNAVAILABLE as exc:
            self.hub.mark_down(exc)
            await self._idle(self.retry_interval)
            return
        except aioredis.RedisError as exc:
            # A rejected command (e.g. a key of the wrong type) would fail forever if retried.
            log.error("call records: dropping a batch of %d op(s) Redis rejected: %s", len(batch), exc)
        for _ in batch:
            self._buffer.popleft()
        self.written += len(batch)
        if not self.pending:
            self._empty.set()
