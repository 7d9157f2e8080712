"""The engine's Queue() passes, shared with the AMI listener through Redis (any node, any process).

The engine leaves Queue() on a timeout to announce position and estimate, then re-enters keeping the
caller's place. app_queue reports such a timeout as QueueCallerAbandon + QueueCallerLeave and the
re-entry as a new QueueCallerJoin; counted as is, one caller would be offered and abandoned several
times. The engine says, per caller uniqueid, which queue it waits in and each pass's timeout (`begin`)
and how the wait ended (`finish`); the leader's listener asks `filter` what the reducer should see of
each join/abandon/leave: a timeout's abandon and leave are held in Redis until the engine re-enters
(dropped: the caller is still waiting) or ends the wait (a hangup or the queue timeout counts as
abandoned; overflow, callback and answer do not: only the leave is released), and a re-entry is fed
as a QueueEntry, which is not counted as offered.

Every step is one Lua script, so the engine (on any node) and the listener (on the leader) never
interleave halfway: an abandon cannot be held just after the engine released what was held. The
engine's side never raises and waits at most `timeout` s: a call does not depend on Redis (without
it, the listener counts the passes as they come). Released events wait in a Redis list for the leader.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import redis.asyncio as aioredis

from ivr import keys
from ivr.state.lease import REDIS_FAILURES
from ivr.state.redis import RedisGetter

log = logging.getLogger(__name__)
ABANDONING = frozenset({"hangup", "timeout"})  # how an engine wait ended that counts as abandoned
FILTERED = frozenset({"queuecallerjoin", "queuecallerabandon", "queuecallerleave"})
KEEP_S = 120  # a finished wait's state: the AMI events of a finished wait may trail the AGI reply

# Shared by begin and finish: move the held events to the released list, with the outcome.
_RELEASE = """
local function release(outcome)
  local held = redis.call('LRANGE', KEYS[2], 0, -1)
  redis.call('DEL', KEYS[2])
  if #held > 0 then
    redis.call('RPUSH', KEYS[3], cjson.encode({uid = ARGV[1], outcome = outcome, events = held}))
  end
end
"""
# KEYS: pass, held, released. ARGV: uid, queue, timeout, ttl.
_BEGIN = _RELEASE + """
local q = redis.call('HGET', KEYS[1], 'queue')
local fin = redis.call('HGET', KEYS[1], 'finished')
if (not q) or (fin and fin ~= '') then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('HSET', KEYS[1], 'queue', ARGV[2], 'timeout', ARGV[3], 'joins', 0, 'finished', '')
elseif q ~= ARGV[2] then
  release('overflow')  -- overflow into another queue: the first one saw the caller leave
  redis.call('HSET', KEYS[1], 'queue', ARGV[2], 'timeout', ARGV[3], 'joins', 0)
else  -- the previous pass's timeout too: its abandon may reach the listener after this begin
  redis.call('HSET', KEYS[1], 'prev_timeout', redis.call('HGET', KEYS[1], 'timeout'), 'timeout', ARGV[3])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""
# KEYS: pass, held, released. ARGV: uid, outcome, now, keep.
_FINISH = _RELEASE + """
local q = redis.call('HGET', KEYS[1], 'queue')
local fin = redis.call('HGET', KEYS[1], 'finished')
if (not q) or (fin and fin ~= '') then return 0 end
redis.call('HSET', KEYS[1], 'finished', ARGV[2], 'finished_at', ARGV[3])
release(ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""
# KEYS: pass, held. ARGV: event (lower case), queue, hold time, event JSON, now, ttl, event identity.
# Returns "pass" (feed it), "drop" (held or ours) or "entry:<seconds waited>" (a re-entry). The same
# event filtered twice (a new leader replays what the old one filtered but did not apply) gets the
# same verdict and changes nothing the second time.
_FILTER = """
local function decide()
  local q = redis.call('HGET', KEYS[1], 'queue')
  if (not q) or q ~= ARGV[2] then return 'pass' end
  local name = ARGV[1]
  local fin = redis.call('HGET', KEYS[1], 'finished')
  local timeout = tonumber(redis.call('HGET', KEYS[1], 'timeout'))
  local prev = tonumber(redis.call('HGET', KEYS[1], 'prev_timeout') or timeout)
  -- Holding a real abandon is harmless (the engine then ends the wait with "hangup", which releases
  -- it as an abandon); missing one of ours would count a break as an abandon: take the shorter.
  local ours = name == 'queuecallerabandon' and tonumber(ARGV[3]) >= math.min(timeout, prev) - 1
  if fin and fin ~= '' then  -- the engine is done with this caller; a later join is a new wait
    if name == 'queuecallerjoin' then redis.call('DEL', KEYS[1], KEYS[2]) return 'pass' end
    if ours and fin ~= 'hangup' and fin ~= 'timeout' then return 'drop' end
    return 'pass'
  end
  if name == 'queuecallerjoin' then
    if redis.call('HINCRBY', KEYS[1], 'joins', 1) == 1 then
      redis.call('HSET', KEYS[1], 'first_at', ARGV[5])
      return 'pass'
    end
    redis.call('DEL', KEYS[2])  -- back in the queue: the held timeout was an announcement break
    local first = tonumber(redis.call('HGET', KEYS[1], 'first_at') or ARGV[5])
    return 'entry:' .. string.format('%.3f', math.max(0, tonumber(ARGV[5]) - first))
  end
  if ours or (name == 'queuecallerleave' and redis.call('LLEN', KEYS[2]) > 0) then
    redis.call('RPUSH', KEYS[2], ARGV[4])
    redis.call('EXPIRE', KEYS[2], ARGV[6])
    return 'drop'
  end
  return 'pass'
end
if ARGV[7] ~= '' and redis.call('HGET', KEYS[1], 'last_id') == ARGV[7] then
  return redis.call('HGET', KEYS[1], 'last_verdict')
end
local verdict = decide()
if ARGV[7] ~= '' and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'last_id', ARGV[7], 'last_verdict', verdict)
end
return verdict
"""


class QueuePasses:
    def __init__(self, redis: RedisGetter | None, *, ttl_s: int = 10_800, timeout: float = 0.5) -> None:
        """`redis`: the process's RedisGetter (None: no passes are shared, the listener counts raw);
        `ttl_s`: keys.queue_pass_ttl_s(settings)."""
        self.redis, self.ttl_s, self.timeout = redis, ttl_s, timeout
        self.lost = 0  # engine writes that did not reach Redis

    async def _eval(self, script: str, uid: str, *args: object) -> None:
        client = await self.redis() if self.redis is not None else None
        if client is None:
            self.lost += 1
            return
        ks = [keys.queue_pass(uid), keys.queue_pass_held(uid), keys.QUEUE_PASS_RELEASED]
        try:
            await asyncio.wait_for(client.eval(script, 3, *ks, uid, *args), self.timeout)  # type: ignore[arg-type]
        except REDIS_FAILURES as exc:
            self.lost += 1
            log.warning("queue pass of %s not shared (%s): the listener may count it as an abandon", uid, exc)

    async def begin(self, uid: str, queue: str, timeout_s: float) -> None:
        """Before each Queue(): the pass may time out after `timeout_s` (the engine's own timeout)."""
        await self._eval(_BEGIN, uid, queue, repr(float(timeout_s)), self.ttl_s)

    async def finish(self, uid: str, outcome: str) -> None:
        """The engine's wait ended: answered, hangup, timeout, overflow, callback or a queue status."""
        await self._eval(_FINISH, uid, outcome, repr(time.time()), KEEP_S)


async def filter_event(redis: aioredis.Redis, e: dict[str, str], now: float, ttl_s: int,
                       ident: str = "") -> list[dict[str, str]]:
    """What the reducer should see of one AMI event, given the engine's passes (the listener's side).
    `ident`: the event's identity (ivr.queueing.replay.identity), "" for none."""
    name = e.get("Event", "").lower()
    uid = e.get("Uniqueid", "")
    if name not in FILTERED or not uid:
        return [e]
    verdict = await redis.eval(
        _FILTER, 2, keys.queue_pass(uid), keys.queue_pass_held(uid), name, e.get("Queue", ""),
        str(float(e.get("HoldTime") or 0)), json.dumps(e), repr(now), ttl_s, ident)
    text = verdict.decode() if isinstance(verdict, bytes) else str(verdict)
    if text == "pass":
        return [e]
    if text.startswith("entry:"):
        return [{**e, "Event": "QueueEntry", "Wait": text.removeprefix("entry:")}]
    return []


async def take_released(redis: aioredis.Redis, most: int = 100) -> list[dict[str, str]]:
    """Held events that ended waits released, oldest first; an abandon only when the wait counts as one."""
    raw = await redis.lpop(keys.QUEUE_PASS_RELEASED, most)
    out: list[dict[str, str]] = []
    for item in raw or []:
        entry = json.loads(item if isinstance(item, (str, bytes)) else str(item))
        for text in entry["events"]:
            e = json.loads(text)
            if entry["outcome"] in ABANDONING or e.get("Event", "").lower() != "queuecallerabandon":
                out.append(e)
    return out
