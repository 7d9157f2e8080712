"""Live QA capacity: slots per process, degrade reasons counted, and the Redis claim per call."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from ivr import keys
from ivr.liveqa.capacity import CALLS_PER_CORE, Capacity, Claims, cores, max_calls
from ivr.settings import load_settings

pytestmark = pytest.mark.timeout(20)


def test_capacity_admits_up_to_its_limit_and_counts_what_it_turns_away() -> None:
    cap = Capacity(limit=2)
    assert cap.admit("a") and cap.admit("b")
    assert not cap.admit("c")  # full: call c gets post-call QA only
    assert not cap.admit("a")  # the same call twice (a repeated AgentConnect) takes no second slot
    cap.release("a")
    assert cap.admit("c")
    assert cap.active == {"b", "c"}
    assert cap.counts == {"streamed": 3, "degraded:capacity": 1}


def test_degrade_reasons_are_a_closed_list() -> None:
    cap = Capacity(limit=1)
    cap.degrade("lag")
    assert cap.counts["degraded:lag"] == 1
    with pytest.raises(ValueError, match="degrade reason 'slow'"):
        cap.degrade("slow")


def test_default_limit_is_per_core_times_the_cores_this_process_may_use() -> None:
    assert max_calls(load_settings(liveqa_max_calls=0)) == CALLS_PER_CORE * cores()
    assert max_calls(load_settings(liveqa_max_calls=3)) == 3


async def test_one_claim_per_call_across_processes_renewed_and_released_by_its_holder(redis_url: str) -> None:
    r = aioredis.Redis.from_url(redis_url)
    try:
        one, two = Claims(r, "node-a", ttl_s=5), Claims(r, "node-b", ttl_s=5)
        first, second = await asyncio.gather(one.claim("call-1"), two.claim("call-1"))
        assert [first, second].count(True) == 1  # both tried at once: exactly one streams it
        holder, other = (one, two) if first else (two, one)
        assert await r.get(keys.liveqa_claim("call-1")) == holder.node.encode()
        assert 0 < await r.ttl(keys.liveqa_claim("call-1")) <= 5
        assert not await other.renew("call-1")  # not its claim
        await other.release("call-1")  # nor may it delete it
        assert await r.exists(keys.liveqa_claim("call-1"))
        await r.expire(keys.liveqa_claim("call-1"), 2)
        assert await holder.renew("call-1") and await r.ttl(keys.liveqa_claim("call-1")) > 2
        await holder.release("call-1")
        assert not await r.exists(keys.liveqa_claim("call-1"))
        assert await other.claim("call-1")  # free again
    finally:
        await r.aclose()
