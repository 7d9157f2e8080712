"""`ivr serve` refuses an oversize flow file saved into its flows directory: the hotline keeps its
good version and the refusal reaches Redis (keys.flow_error), where the flow editor shows it."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
import redis.asyncio

from ivr import keys
from ivr.callflow.loader import MAX_FLOW_BYTES
from ivr.clock import FixedClock
from ivr.files import atomic_write
from ivr.service import HotlineService
from ivr.settings import load_settings
from tests.e2e.conftest import MONDAY_10AM
from tests.support.components import free_port

REPO_FLOWS = Path(__file__).resolve().parent.parent / "ivr" / "flows"

pytestmark = pytest.mark.timeout(120)


async def test_an_oversize_flow_is_refused_and_reported_while_the_old_one_serves(
    redis_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    flows = tmp_path / "flows"
    shutil.copytree(REPO_FLOWS, flows)
    settings = load_settings(
        redis_url=redis_url, agi_port=free_port(), ami_port=free_port(), state_dir=tmp_path / "state",
        recordings_dir=tmp_path / "recordings", flows_dir=flows,
        prompts_dir=Path(tmp_path_factory.getbasetemp()).parent / "prompts-cache",
    )
    service = HotlineService(settings, clock=FixedClock(MONDAY_10AM))
    await asyncio.wait_for(service.start(), 90)
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    try:
        good = service.store.get("hotline")
        assert good is not None
        await asyncio.sleep(0.5)  # let the watcher start
        path = flows / "hotline.yaml"
        atomic_write(path, path.read_text(encoding="utf-8") + "# padding\n" * (MAX_FLOW_BYTES // 10))
        async with asyncio.timeout(20):
            while (raw := await client.get(keys.flow_error("hotline"))) is None:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        error = json.loads(raw)
        assert error["file"] == str(path)
        assert [f"{MAX_FLOW_BYTES}-byte limit" in e and str(path) in e for e in error["errors"]] == [True]
        assert service.store.get("hotline") is good and service.engine.handler_for("hotline") is not None
    finally:
        await client.aclose()
        await asyncio.wait_for(service.stop(drain=False), 30)
