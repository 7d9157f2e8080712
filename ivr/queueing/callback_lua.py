"""The callback store's Redis steps, one Lua script each, so every change of a callback is atomic
(ivr.queueing.callbacks calls them). A callback that finishes (done or failed) is also put into
keys.CALLBACKS_FINISHED in the same step, so its history reaches the records database
(ivr.records.callback_history) however it ended and on whichever node.
"""

from __future__ import annotations

# KEYS: by-number, record, queue zset. ARGV: id, score, field, value, ...
REQUEST = """
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
return ARGV[1]
"""

# KEYS: record, lease (or ""). ARGV: now, lease_until, token, node. Pending and due -> dialing, with
# the dial's token: only that token records the attempt, so no dial is recorded (or made) twice. With
# a lease key, only the node holding it may claim (a leader that just lost the lease claims nothing).
# A claim that expired is never claimed again: the dial may have happened (see CallbackStore.orphaned).
CLAIM = """
if KEYS[2] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[4] then return 0 end
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 0 end
status = cjson.decode(status)
local now = tonumber(ARGV[1])
if not (status == 'pending' and cjson.decode(redis.call('HGET', KEYS[1], 'next_attempt_at')) <= now) then
  return 0
end
redis.call('HSET', KEYS[1], 'status', cjson.encode('dialing'), 'claimed_until', ARGV[2],
  'dial_token', cjson.encode(ARGV[3]), 'dialed_by', cjson.encode(ARGV[4]))
return 1
"""

# KEYS: record, attempts, queue zset, by-number, finished zset. ARGV: attempt JSON, now, counts (1/0),
# outcome, ttl, id, token ("" = any). With a token, only the claim that holds it records (else "stale":
# already recorded).
ATTEMPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
local status = cjson.decode(redis.call('HGET', KEYS[1], 'status'))
if ARGV[7] ~= '' then
  local token = redis.call('HGET', KEYS[1], 'dial_token')
  if status ~= 'dialing' or (not token) or cjson.decode(token) ~= ARGV[7] then return cjson.encode('stale') end
end
if status == 'done' or status == 'failed' or status == 'cancelled' then return cjson.encode(status) end
redis.call('HDEL', KEYS[1], 'dial_token')
redis.call('RPUSH', KEYS[2], ARGV[1])
local attempts = cjson.decode(redis.call('HGET', KEYS[1], 'attempts')) + tonumber(ARGV[3])
local max = cjson.decode(redis.call('HGET', KEYS[1], 'max_attempts'))
local now = tonumber(ARGV[2])
local new
if ARGV[4] == 'answered' then new = 'done'
elseif attempts >= max then new = 'failed'
else new = 'pending' end
local delay = 0
if ARGV[3] == '1' then delay = cjson.decode(redis.call('HGET', KEYS[1], 'retry_delay_s')) end
redis.call('HSET', KEYS[1], 'status', cjson.encode(new), 'attempts', attempts,
  'next_attempt_at', now + delay, 'last_outcome', cjson.encode(ARGV[4]))
if new ~= 'pending' then
  redis.call('HSET', KEYS[1], 'finished_at', now)
  redis.call('ZREM', KEYS[3], ARGV[6])
  if redis.call('GET', KEYS[4]) == ARGV[6] then redis.call('DEL', KEYS[4]) end
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
  redis.call('ZADD', KEYS[5], now, ARGV[6])
end
return cjson.encode(new)
"""


# KEYS: record, queue zset, by-number, finished zset. ARGV: now, reason JSON, ttl, id. Only an open (or
# undecodable) callback is failed.
FAIL = """
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
local ok, status = pcall(cjson.decode, redis.call('HGET', KEYS[1], 'status') or 'null')
if ok and (status == 'done' or status == 'failed' or status == 'cancelled') then return cjson.encode(status) end
redis.call('HSET', KEYS[1], 'status', cjson.encode('failed'), 'last_outcome', cjson.encode('failed'),
  'failed_reason', ARGV[2], 'finished_at', ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[4])
if KEYS[3] ~= '' and redis.call('GET', KEYS[3]) == ARGV[4] then redis.call('DEL', KEYS[3]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[1], ARGV[4])
return cjson.encode('failed')
"""
