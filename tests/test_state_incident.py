from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from ivr import keys
from ivr.state.incident import Incident, clear_incident, get_incident, render_statement, set_incident
from tests.support.components import free_port

pytestmark = pytest.mark.timeout(20)


async def test_set_get_clear(redis_url: str) -> None:
    r = aioredis.Redis.from_url(redis_url)
    try:
        assert await get_incident(r) is None
        await set_incident(r, {"zh-CN": "宽带服务", "en-US": "broadband service"}, "今天18:00")
        got = await get_incident(r)
        assert got is not None and got.on and got.text["zh-CN"] == "宽带服务"
        assert abs(got.since - time.time()) < 5
        await clear_incident(r)
        assert await get_incident(r) is None
        kept = Incident.model_validate_json(await r.get(keys.INCIDENT))
        assert kept.text["en-US"] == "broadband service" and not kept.on
        await r.set(keys.INCIDENT, b"{not json")
        assert await get_incident(r) is None
    finally:
        await r.aclose()


async def test_set_rejects_empty(redis_url: str) -> None:
    r = aioredis.Redis.from_url(redis_url)
    try:
        with pytest.raises(ValueError, match="empty"):
            await set_incident(r, {"zh-CN": " "}, "今天18:00")
        with pytest.raises(ValueError, match="recovery"):
            await set_incident(r, {"zh-CN": "宽带服务"}, "")
    finally:
        await r.aclose()


async def test_get_redis_down_or_slow_returns_none() -> None:
    dead = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)
        writer.close()

    srv = await asyncio.start_server(silent, "127.0.0.1", 0)
    slow = aioredis.Redis.from_url(f"redis://127.0.0.1:{srv.sockets[0].getsockname()[1]}/0")
    try:
        assert await get_incident(dead) is None
        t0 = time.monotonic()
        assert await get_incident(slow) is None
        assert time.monotonic() - t0 < 1.0
        assert await get_incident(None) is None
    finally:
        srv.close()
        await dead.aclose()
        await slow.aclose()


def test_statement_follows_template() -> None:
    inc = Incident(on=True, text={"zh-CN": "宽带服务。", "en-US": "broadband service"}, recovery="今天18:00",
                   since=0)
    zh = render_statement(inc, "zh-CN")
    assert zh == ("非常抱歉给您带来不便，目前我们的宽带服务出现了一些技术故障，"
                  "公司已经组织专业团队全力抢修，预计在今天18:00恢复正常。")
    en = render_statement(inc, "en-US")
    assert en.startswith("We are very sorry") and "broadband service" in en and "repair" in en
    assert render_statement(inc, "fr-FR") == zh  # unknown language: the zh-CN statement
    only_en = Incident(on=True, text={"en-US": "app"}, recovery="6 pm", since=0)
    assert "Our app is" in render_statement(only_en, "zh-CN")
