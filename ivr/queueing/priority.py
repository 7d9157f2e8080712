"""Queue priority (Asterisk QUEUE_PRIO): VIP callers and urgent complaint categories are answered first.

The VIP list is the union of queues.yaml `vip_numbers` and the Redis set `ivr:vip` (editable at run
time); a call never waits on Redis: if it is down or slow, the YAML list still answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection

import redis.asyncio

from ivr import keys
from ivr.queueing.model import QueueConfig
from ivr.queueing.numbers import BadNumber, normalize_number

log = logging.getLogger(__name__)
REDIS_TIMEOUT = 0.3  # seconds: priority is looked up while the caller waits to enter the queue


def is_vip(caller_id: str | None, cfg: QueueConfig, vip_numbers: Collection[str]) -> bool:
    """`vip_numbers` must be normalized (VipList.numbers() returns them so)."""
    if not caller_id:
        return False
    try:
        return normalize_number(caller_id, cfg.country_code) in vip_numbers
    except BadNumber:  # anonymous or garbage caller ID: an ordinary caller
        return False


def priority_for(caller_id: str | None, category: str | None, cfg: QueueConfig,
                 vip_numbers: Collection[str]) -> int:
    """QUEUE_PRIO for a call: the higher of the VIP priority and the category's (0 = ordinary)."""
    prio = cfg.priorities.vip if is_vip(caller_id, cfg, vip_numbers) else 0
    if category is not None:
        prio = max(prio, cfg.priorities.categories.get(category, 0))
    return prio


class VipList:
    """The run-time editable VIP list in Redis plus the YAML one."""

    def __init__(self, redis: redis.asyncio.Redis, cfg: QueueConfig) -> None:
        self._redis = redis
        self._cfg = cfg

    def _yaml_numbers(self) -> set[str]:
        out = set()
        for raw in self._cfg.vip_numbers:
            try:
                out.add(normalize_number(raw, self._cfg.country_code))
            except BadNumber:
                log.warning("queues.yaml vip_numbers: ignoring %r (not a phone number)", raw)
        return out

    async def numbers(self) -> set[str]:
        """Normalized VIP numbers; the YAML ones alone when Redis does not answer in time."""
        yaml_numbers = self._yaml_numbers()
        try:
            members = await asyncio.wait_for(self._redis.smembers(keys.VIP), REDIS_TIMEOUT)
        except Exception as exc:  # down, slow or garbage: VIPs from YAML are still honoured
            log.warning("VIP list not read from Redis (%s); using queues.yaml only", exc)
            return yaml_numbers
        return yaml_numbers | {m.decode() if isinstance(m, bytes) else str(m) for m in members}

    async def add(self, number: str) -> str:
        """Add a number (raises BadNumber); returns its normalized form."""
        norm = normalize_number(number, self._cfg.country_code)
        await self._redis.sadd(keys.VIP, norm)
        return norm

    async def remove(self, number: str) -> bool:
        """True when it was in the Redis list (numbers in queues.yaml are removed by editing the file)."""
        norm = normalize_number(number, self._cfg.country_code)
        return bool(await self._redis.srem(keys.VIP, norm))
