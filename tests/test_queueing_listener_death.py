"""The AMI listener never dies silently: a bug in its event consumer loop (here: the takeover step)
ends run() with that error, so the service's TaskSupervisor logs it and restarts the listener
(before, the consumer task died unseen and the wallboard stopped updating while run() kept
reconnecting)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ivr.queueing.config import load_queue_config
from ivr.queueing.listener import QueueListener
from ivr.schedule import load_schedules
from ivr.settings import REPO_ROOT, load_settings
from tests.support.components import free_port

pytestmark = pytest.mark.timeout(20)
FLOWS = REPO_ROOT / "ivr" / "flows"


class BrokenListener(QueueListener):
    async def _take_over(self) -> None:
        raise KeyError("a bug while taking over")


async def _no_redis() -> None:
    return None


async def test_a_consumer_bug_ends_run_with_the_error(tmp_path: Path) -> None:
    settings = load_settings(ami_port=free_port(), state_dir=tmp_path)  # nothing listens: AMI down
    cfg = load_queue_config(FLOWS / "queues.yaml", schedules=load_schedules(FLOWS / "schedules.yaml"))
    listener = BrokenListener(settings, cfg, _no_redis, backoff_max_s=0.2)  # type: ignore[arg-type]
    run = asyncio.create_task(listener.run())
    await asyncio.sleep(0.2)
    assert not run.done()  # AMI being down is retried, not an error
    await listener._gained()
    await asyncio.wait({run}, timeout=3)
    try:
        assert run.done(), "the consumer died but run() went on as if nothing happened"
        assert isinstance(run.exception(), KeyError)
    finally:
        run.cancel()
