"""Run the FastAGI service (the same `HotlineService` that `ivr serve` runs) in a background
thread with its own event loop, so a test or the demo can drive calls with SIPp and read Redis meanwhile."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from ivr.clock import Clock
from ivr.service import HotlineService
from ivr.settings import Settings


class ServiceThread:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.loop = asyncio.new_event_loop()
        self.service = HotlineService(settings, clock=clock)
        self._thread = threading.Thread(target=self.loop.run_forever, name="ivr-service", daemon=True)

    def run(self, coro: Any, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        self._thread.start()
        self.run(self.service.start(), timeout=120)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            self.run(self.service.stop(), timeout=60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            self.loop.close()
