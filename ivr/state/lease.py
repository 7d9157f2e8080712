"""The leader lease: which `ivr serve` of several runs the AMI listener's writes and the callback dialer.

A string key in Redis names the holder (`SET NX PX`); only the holder renews or releases it (a
compare-and-set Lua script), every `renew_s`. A standby tries to take it at the same pace, so it leads
at most `lease_s + renew_s` after the holder died (3 s + 1 s by default: within the 5 s of the policy).

Partition: a holder that cannot reach Redis keeps acting only until `lease_s - margin` after the moment
it SENT its last successful renewal. Redis expires the key at least `lease_s` after it received that
request, so the old holder has stopped before anyone else can hold the key. `leading` is evaluated
at each use (the local monotonic clock), not only at each renewal.

Writes that must come from the leader alone go through `fenced_apply`: WATCH the key, check the
holder, then MULTI/EXEC; a holder that lost the key in between writes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from redis.exceptions import WatchError

from ivr import keys
from ivr.settings import Settings
from ivr.state.ops import Op, add_to, dumps
from ivr.state.redis import UNAVAILABLE, RedisGetter

log = logging.getLogger(__name__)
Hook = Callable[[], Awaitable[None]]
# Redis unreachable, slow, or refusing a command: what a background writer logs and survives.
REDIS_FAILURES: tuple[type[BaseException], ...] = (*UNAVAILABLE, aioredis.RedisError)

# KEYS: lease. ARGV: node, px. Only the holder extends the lease.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# KEYS: lease. ARGV: node. Only the holder gives the lease up.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def node_name(settings: Settings) -> str:
    """IVR_NODE_NAME, else <hostname>-<agi port> (letters, digits, '.', '_', '-': it goes on calls)."""
    if settings.node_name:
        return settings.node_name
    host = "".join(c if c.isalnum() or c in "._-" else "-" for c in socket.gethostname())[:40] or "node"
    return f"{host}-{settings.agi_port}"


class LeaderLease:
    def __init__(self, redis: RedisGetter, node: str, *, lease_s: float = 3.0, renew_s: float = 1.0,
                 key: str = keys.LEADER, margin_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if renew_s * 2 > lease_s:
            raise ValueError(f"renew_s={renew_s} must be at most half of lease_s={lease_s}")
        self.redis, self.node, self.key = redis, node, key
        self.lease_s, self.renew_s = lease_s, renew_s
        self.margin_s = renew_s / 2 if margin_s is None else margin_s  # clock drift between us and Redis
        self._clock = clock
        self._valid_until = 0.0  # local monotonic time until which we may act as leader
        self._was_leading = False
        self.redis_ok = False  # the last try reached Redis
        self.held_elsewhere = False  # ... and found the lease held by another node
        self.on_gain: list[Hook] = []
        self.on_loss: list[Hook] = []
        self.gained_at: float | None = None  # wall time of the last gain (tests measure the takeover)
        self.changes = 0

    @classmethod
    def from_settings(cls, settings: Settings, redis: RedisGetter) -> LeaderLease:
        return cls(redis, node_name(settings), lease_s=settings.leader_lease_s, renew_s=settings.leader_renew_s)

    @property
    def leading(self) -> bool:
        return self._clock() < self._valid_until

    async def step(self) -> bool:
        """One try to take or renew the lease; runs the hooks when leadership changed. Returns `leading`."""
        sent = self._clock()
        try:
            got = await asyncio.wait_for(self._try(), self.renew_s)
            if got:
                self._valid_until = sent + self.lease_s - self.margin_s
            self.redis_ok, self.held_elsewhere = True, not got
        except REDIS_FAILURES as exc:
            self.redis_ok = self.held_elsewhere = False
            if self._was_leading:
                log.warning("leader lease of %s not renewed: %s", self.node, exc)
        await self._changed()
        return self.leading

    async def _try(self) -> bool:
        redis = await self.redis()
        if redis is None:
            raise ConnectionError("Redis is down")
        px = str(int(self.lease_s * 1000))
        if self._was_leading and await redis.eval(_RENEW, 1, self.key, self.node, px):
            return True
        return bool(await redis.set(self.key, self.node, nx=True, px=int(px)))

    async def _changed(self) -> None:
        now_leading = self.leading
        if now_leading == self._was_leading:
            return
        self._was_leading = now_leading
        self.changes += 1
        if now_leading:
            self.gained_at = time.time()
            log.info("node %s is now the leader (AMI listener writes, callback dialer)", self.node)
        else:
            log.info("node %s is no longer the leader", self.node)
        for hook in self.on_gain if now_leading else self.on_loss:
            await hook()
        await self._publish(now_leading)

    async def _publish(self, leading: bool) -> None:
        """Best effort: who says it leads, for `ivr doctor` and the operators (the log has it too)."""
        try:
            redis = await self.redis()
            if redis is not None:
                value = dumps({"at": time.time(), "leading": leading})
                await asyncio.wait_for(redis.hset(keys.LEADER_NODES, self.node, value), 1.0)
        except REDIS_FAILURES as exc:
            log.debug("leader state of %s not published: %s", self.node, exc)

    async def run(self) -> None:
        """Forever: take or renew every `renew_s`; a lost lease stops the leader's work (on_loss)."""
        try:
            while True:
                await self.step()
                await asyncio.sleep(self._pause())
        finally:
            if self._was_leading:
                self._valid_until = 0.0
                await self._changed()

    def _pause(self) -> float:
        if not self._was_leading:
            return self.renew_s
        # Wake up when our own validity ends even if Redis is silent, so on_loss runs in time.
        return max(0.0, min(self.renew_s, self._valid_until - self._clock()))

    async def release(self) -> None:
        """Give the lease up at once (clean shutdown): a standby need not wait for it to expire."""
        self._valid_until = 0.0
        try:
            redis = await self.redis()
            if redis is not None:
                await asyncio.wait_for(redis.eval(_RELEASE, 1, self.key, self.node), 1.0)
        except REDIS_FAILURES as exc:
            log.warning("leader lease of %s not released (it expires on its own): %s", self.node, exc)
        await self._changed()


async def current_leader(redis: aioredis.Redis) -> str | None:
    holder = await redis.get(keys.LEADER)
    return holder.decode() if isinstance(holder, bytes) else holder


async def fenced_apply(redis: aioredis.Redis, lease: LeaderLease, ops: list[Op], tries: int = 3) -> bool:
    """`ops` in one MULTI/EXEC if, and only if, this node holds the lease when EXEC runs."""
    if not ops:
        return True
    for _ in range(tries):
        if not lease.leading:
            return False
        async with redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(lease.key)
                holder = await pipe.get(lease.key)
                if (holder.decode() if isinstance(holder, bytes) else holder) != lease.node:
                    return False
                pipe.multi()  # type: ignore[no-untyped-call]
                for op in ops:
                    add_to(pipe, op)
                await pipe.execute()
                return True
            except WatchError:  # the key changed: our own renewal, or a new holder; look again
                continue
    return False
