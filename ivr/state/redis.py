"""One Redis connection per process that tolerates Redis being down.

Calls must never wait on Redis: `RedisHub.client()` answers at once with a client or None
(down). While down, reconnect attempts are spaced by an exponential backoff so a dead Redis
costs a handful of connection attempts, not one per call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

log = logging.getLogger(__name__)

# The process's Redis client, or None while Redis is down: RedisHub.client, as the engine, the AMI
# listener and the callback dialer are given it.
RedisGetter = Callable[[], Awaitable[aioredis.Redis | None]]

# Errors that mean "Redis is unreachable or too slow", as opposed to a bad command.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    aioredis.ConnectionError,
    aioredis.TimeoutError,
    asyncio.TimeoutError,
    OSError,
)


class RedisHub:
    """Holds the process's Redis client; `None` from `client()` means Redis is down right now."""

    def __init__(
        self,
        url: str,
        *,
        socket_timeout: float = 1.0,
        connect_timeout: float = 0.5,
        backoff_min: float = 0.1,
        backoff_max: float = 5.0,
    ) -> None:
        self.url = url
        self.socket_timeout = socket_timeout
        self.connect_timeout = connect_timeout
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self._client: aioredis.Redis | None = None
        self._healthy = False
        self._backoff = backoff_min
        self._next_attempt = 0.0  # monotonic time before which we do not try again
        self._lock = asyncio.Lock()

    @property
    def healthy(self) -> bool:
        return self._healthy

    def _make_client(self) -> aioredis.Redis:
        # No hidden retries inside redis-py: the hub decides when to try again.
        return aioredis.Redis.from_url(
            self.url,
            socket_timeout=self.socket_timeout,
            socket_connect_timeout=self.connect_timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
        )

    async def client(self) -> aioredis.Redis | None:
        """The client when Redis is reachable, else None (never raises, never waits long)."""
        if self._healthy and self._client is not None:
            return self._client
        if time.monotonic() < self._next_attempt or self._lock.locked():
            return None
        async with self._lock:
            return await self._connect()

    async def _connect(self) -> aioredis.Redis | None:
        if self._client is None:
            self._client = self._make_client()
        try:
            await asyncio.wait_for(self._client.ping(), self.connect_timeout + self.socket_timeout)
        except Exception as exc:  # anything here means "not usable now"; the backoff handles it
            self._next_attempt = time.monotonic() + self._backoff
            log.warning("redis %s unavailable (%s); next attempt in %.1fs", self._safe_url(), exc,
                        self._backoff)
            self._backoff = min(self._backoff * 2, self.backoff_max)
            return None
        if not self._healthy:
            log.info("redis %s connected", self._safe_url())
        self._healthy = True
        self._backoff = self.backoff_min
        return self._client

    def mark_down(self, reason: object = "") -> None:
        """Callers report a failed operation; the next `client()` re-checks (after the backoff)."""
        if self._healthy:
            log.warning("redis %s went down: %s", self._safe_url(), reason)
        self._healthy = False
        self._next_attempt = max(self._next_attempt, time.monotonic() + self._backoff)

    async def close(self) -> None:
        client, self._client, self._healthy = self._client, None, False
        if client is not None:
            try:
                await client.aclose()
            except Exception as exc:  # closing a dead connection may fail; nothing to do about it
                log.debug("redis close: %s", exc)

    def _safe_url(self) -> str:
        # Logs must not leak a password embedded in the URL.
        scheme, sep, rest = self.url.partition("://")
        if "@" in rest:
            rest = "***@" + rest.split("@", 1)[1]
        return f"{scheme}{sep}{rest}"
