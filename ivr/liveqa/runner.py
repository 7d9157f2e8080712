"""Building and running the live QA service of one process (`ivr liveqa`, the bench, the demo)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket

import redis.asyncio as aioredis

from ivr.liveqa.capacity import max_calls
from ivr.liveqa.service import LiveQaService
from ivr.liveqa.switches import QueueSwitches, leg_rules
from ivr.settings import Settings
from ivr.transcribe.models import load_model, model_path

log = logging.getLogger(__name__)


def node_name(settings: Settings) -> str:
    return settings.node_name or f"{socket.gethostname()}-liveqa-{settings.liveqa_listen_port}"


def build(settings: Settings, redis: aioredis.Redis, language: str = "") -> LiveQaService:
    """The service with its model loaded (once, for the process) and the post-call phrase lists."""
    language = language or settings.default_language
    model = load_model(model_path(settings, language))
    return LiveQaService(settings, redis, model, leg_rules(settings, language),
                         QueueSwitches(settings.flows_dir / "queues.yaml"), node=node_name(settings),
                         limit=max_calls(settings))


async def run(settings: Settings, language: str = "") -> None:
    """Until SIGTERM/SIGINT: the calls being streamed end with the process (post-call QA still runs)."""
    redis = aioredis.Redis.from_url(settings.redis_url, socket_timeout=5.0, socket_connect_timeout=5.0)
    service = build(settings, redis, language)
    main = asyncio.create_task(service.run(), name="liveqa")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main.cancel)
    try:
        await main
    except asyncio.CancelledError:
        log.info("live QA: stopped")
    finally:
        with contextlib.suppress(Exception):
            await redis.aclose()
