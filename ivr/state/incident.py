"""The incident statement (统一口径): during a large outage every agent and the IVR say the same thing.

Stored at ivr.keys.INCIDENT as JSON. The statement follows the policy's template: an apology,
what is affected, that a team is repairing it, and the expected recovery time.
"""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ivr import keys

log = logging.getLogger(__name__)
READ_TIMEOUT = 0.3  # seconds: the IVR plays the normal greeting rather than wait on Redis

# {affected}: what is broken, in the caller's language; {recovery}: expected recovery time.
TEMPLATES: dict[str, str] = {
    "zh-CN": "非常抱歉给您带来不便，目前我们的{affected}出现了一些技术故障，"
    "公司已经组织专业团队全力抢修，预计在{recovery}恢复正常。",
    "en-US": "We are very sorry for the inconvenience. Our {affected} is currently experiencing "
    "a technical fault. A specialist team is working hard to repair it, and we expect it to be "
    "back to normal by {recovery}.",
}
DEFAULT_LANGUAGE = "zh-CN"


class Incident(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on: bool
    text: dict[str, str] = Field(description="what is affected, per language (e.g. zh-CN: 宽带服务)")
    recovery: str = Field(description="expected recovery time as said to callers (e.g. 今天18:00)")
    since: float


def render_statement(incident: Incident, language: str) -> str:
    """The 统一口径 sentence in `language` (falls back to zh-CN, then any language given)."""
    lang = language if language in incident.text else DEFAULT_LANGUAGE
    if lang not in incident.text:
        lang = next(iter(incident.text))
    template = TEMPLATES.get(lang, TEMPLATES[DEFAULT_LANGUAGE])
    affected = incident.text[lang].strip().rstrip("。.")
    return template.format(affected=affected, recovery=incident.recovery.strip())


async def get_incident(redis: aioredis.Redis | None) -> Incident | None:
    """The active incident; None when off, absent, unreadable, or Redis is down/slow (never raises)."""
    if redis is None:
        return None
    try:
        raw = await asyncio.wait_for(redis.get(keys.INCIDENT), READ_TIMEOUT)
    except Exception as exc:  # Redis down or slow: callers get the normal flow
        log.warning("incident not read (%s); assuming none", exc)
        return None
    if raw is None:
        return None
    try:
        incident = Incident.model_validate_json(raw)
    except ValidationError as exc:
        log.warning("ignoring malformed %s: %s", keys.INCIDENT, exc)
        return None
    return incident if incident.on else None


async def set_incident(redis: aioredis.Redis, text: dict[str, str], recovery: str) -> Incident:
    """Turn the statement on. Raises ValueError on empty text/recovery and Redis errors as-is."""
    empty = [lang for lang, t in text.items() if not t.strip()]
    if not text or empty:
        raise ValueError(f"incident text: give what is affected per language (empty: {empty or 'all'})")
    if not recovery.strip():
        raise ValueError("incident recovery: give the expected recovery time (e.g. 今天18:00)")
    incident = Incident(on=True, text=text, recovery=recovery, since=time.time())
    await redis.set(keys.INCIDENT, incident.model_dump_json())
    return incident


async def clear_incident(redis: aioredis.Redis) -> None:
    """Turn the statement off, keeping its last text for the dashboard."""
    raw = await redis.get(keys.INCIDENT)
    if raw is None:
        return
    try:
        last = Incident.model_validate_json(raw)
    except ValidationError:
        await redis.delete(keys.INCIDENT)
        return
    await redis.set(keys.INCIDENT, last.model_copy(update={"on": False}).model_dump_json())
