"""The records database as the dashboard uses it: queries run in worker threads (a slow one never
holds the event loop, so the wallboard keeps streaming), a few at a time, each with a time limit, and
a database that is down or too slow is a 503 naming it, not a hung or failed request.

The schema is brought to head on first use (`ivr db upgrade` does the same ahead of time)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from fastapi import HTTPException
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from ivr.records import calls as sql_calls
from ivr.records.db import engine_from_settings, upgrade
from ivr.settings import Settings

T = TypeVar("T")
OUTCOMES_TTL_S = 30.0  # the set of known outcomes (an outcome filter's check) is re-read this often


class RecordsDb:
    def __init__(self, settings: Settings, *, concurrency: int = 4, timeout: float = 10.0) -> None:
        self.engine = engine_from_settings(settings)
        self.timeout = timeout
        self._slots = asyncio.Semaphore(concurrency)
        self._schema_ready = False
        self._schema_lock = asyncio.Lock()
        self._outcomes: tuple[float, set[str]] = (0.0, set())
        # Answers of costly reads, each stored with what it was computed from (the reader checks that first),
        # e.g. a drawn week's re-draw check (dashboard.sampling.verify).
        self.memo: dict[str, tuple[Any, Any]] = {}

    async def _call(self, fn: Callable[[], T]) -> T:
        async with self._slots:
            try:
                return await asyncio.wait_for(asyncio.to_thread(fn), self.timeout)
            except (SQLAlchemyError, TimeoutError) as exc:
                raise HTTPException(503, f"records database unavailable: {type(exc).__name__}: "
                                         f"{str(exc).splitlines()[0][:200] if str(exc) else 'timed out'}") from exc

    async def ready(self) -> None:
        """The schema at head (503 HTTPException while the database is down)."""
        await self._ensure_schema()

    async def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        async with self._schema_lock:
            if not self._schema_ready:
                await self._call(lambda: upgrade(self.engine))
                self._schema_ready = True

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """`fn(connection)` in a worker thread."""
        await self._ensure_schema()

        def run() -> T:
            with self.engine.connect() as conn:
                return fn(conn)

        return await self._call(run)

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """`fn(connection)` in one transaction, in a worker thread."""
        await self._ensure_schema()

        def run() -> T:
            with self.engine.begin() as conn:
                return fn(conn)

        return await self._call(run)

    async def outcomes(self) -> set[str]:
        at, known = self._outcomes
        if time.monotonic() - at > OUTCOMES_TTL_S:
            known = await self.read(sql_calls.outcomes)
            self._outcomes = (time.monotonic(), known)
        return known

    def close(self) -> None:
        self.engine.dispose()


class WithExtra(Protocol):
    extra: dict[str, Any]


def records(svc: WithExtra) -> RecordsDb:
    """The app's RecordsDb (dashboard.app puts it in Services.extra at start-up)."""
    db: RecordsDb = svc.extra["records"]
    return db
