"""Reports flow reloads to Redis for the dashboard: the last error of each flow at
`keys.flow_error(name)` (deleted once a reload succeeds) and every result on `keys.FLOW_EVENTS`.

Used as FlowStore's `on_reload` callback. The store calls it synchronously; the Redis writes
run as background tasks (kept in a set) so a slow or absent Redis never holds up a reload.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from ivr import keys
from ivr.callflow.store import ReloadResult

log = logging.getLogger(__name__)
WRITE_TIMEOUT = 2.0


class RedisReloadReporter:
    def __init__(
        self,
        redis_getter: Callable[[], Awaitable[aioredis.Redis | None]],
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis_getter
        self._now = now
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, result: ReloadResult) -> None:
        try:
            task = asyncio.get_running_loop().create_task(self._write(result))
        except RuntimeError:  # reloaded outside asyncio (a script): nothing to report to
            log.debug("flow %s: reload not reported (no event loop)", result.name)
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the reports still being written (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _event(self, result: ReloadResult) -> dict[str, Any]:
        return {
            "flow": result.name, "file": str(result.file), "ok": result.ok, "serving": result.serving,
            "deleted": result.deleted, "at": self._now(),
            "errors": [str(i) for i in result.errors],
            "warnings": [str(i) for i in result.issues if i.severity == "warning"],
        }

    async def _write(self, result: ReloadResult) -> None:
        event = self._event(result)
        try:
            client = await self._redis()
            if client is None:
                log.warning("flow %s: reload result not reported (Redis down)", result.name)
                return
            pipe = client.pipeline(transaction=False)
            if event["errors"]:
                error = {"file": event["file"], "errors": event["errors"], "at": event["at"]}
                pipe.set(keys.flow_error(result.name), json.dumps(error, ensure_ascii=False))
            else:
                pipe.delete(keys.flow_error(result.name))
            pipe.publish(keys.FLOW_EVENTS, json.dumps(event, ensure_ascii=False))
            await asyncio.wait_for(pipe.execute(), WRITE_TIMEOUT)
        except Exception as exc:  # reporting is best effort: the flow itself is already swapped (or not)
            log.warning("flow %s: reload result not reported (%s)", result.name, exc)
