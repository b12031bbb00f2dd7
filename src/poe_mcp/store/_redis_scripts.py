"""Lua scripts run inside Redis: each is one atomic step, whatever other instances do.

Times come from Redis (``TIME``), not from the calling machine, so instances whose clocks
disagree still agree on expiry and on rate-limit slots; the session scripts take the time as
an argument instead when the store was given a clock. Floats go back as strings: Redis turns
Lua numbers into integers.
"""

from __future__ import annotations

__all__ = ["APPEND", "LIST_SESSIONS", "RATE_TAKE"]

# The time of a session script: ARGV[i] when given (the store's clock), else Redis's TIME.
_NOW = """
local now = tonumber(ARGV[{i}])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

# KEYS: meta hash, message list, session index (zset id -> expires_at), write mark
# ARGV: session id, ttl ms, '=model' or '' (keep), '=backend' or '', user turns, mark ttl ms,
#       '=tools JSON' or '', '1' to reply with the session (else an empty one), now ('' for
#       TIME), messages (JSON)...
# A session past its expires_at starts afresh, whether or not Redis has dropped its keys yet.
# Its times keep 17 significant digits: the very double the caller's clock gave.
# The write mark makes a retried append (reply lost when Redis restarted) a no-op.
APPEND = (
    _NOW.format(i=9)
    + """
local ttl_ms = tonumber(ARGV[2])
if redis.call('SET', KEYS[4], '1', 'NX', 'PX', ARGV[6]) then
  local expires_at = tonumber(redis.call('HGET', KEYS[1], 'expires_at'))
  if not expires_at or expires_at <= now then
    redis.call('DEL', KEYS[1], KEYS[2])
    redis.call('HSET', KEYS[1], 'created_at', string.format('%.17g', now), 'turns', 0)
  end
  if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'model', string.sub(ARGV[3], 2)) end
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'backend', string.sub(ARGV[4], 2)) end
  if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'tools', string.sub(ARGV[7], 2)) end
  local expires = now + ttl_ms / 1000
  redis.call('HINCRBY', KEYS[1], 'turns', ARGV[5])
  redis.call('HSET', KEYS[1], 'updated_at', string.format('%.17g', now),
             'expires_at', string.format('%.17g', expires))
  if #ARGV > 9 then redis.call('RPUSH', KEYS[2], unpack(ARGV, 10)) end
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if ttl_ms > 0 then
    redis.call('PEXPIRE', KEYS[1], ttl_ms)
    redis.call('PEXPIRE', KEYS[2], ttl_ms)
    redis.call('ZADD', KEYS[3], expires, ARGV[1])
  end
end
local reply = {{}, {}}
if ARGV[8] == '1' then
  reply = {redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}
end
if ttl_ms <= 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('ZREM', KEYS[3], ARGV[1])
end
return reply
"""
)

# KEYS: session index; ARGV: now ('' for TIME). Drops expired ids, returns the live ones.
LIST_SESSIONS = (
    _NOW.format(i=1)
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""
)

# The ledger write (RECORD_USAGE) lives with the rollups it also updates: _rollup_redis.py.

# GCRA (the token bucket as one "theoretical arrival time" per key), taking a slot only when
# the request may go now; nothing is reserved ahead, so late wakers are still spaced out.
# KEYS: tat, waiters zset (waiter id -> when it stops counting)
# ARGV: interval s, tolerance s, max wait s, waiter id, '1' when already queued, grace s
# Returns {seconds, state}: state 'ok' (go now), 'wait' (sleep then call again), 'refused'
# (seconds = expected wait, over the bound). Waiters of killed processes age out of the zset.
RATE_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local grace = tonumber(ARGV[6])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tolerance - now
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if wait <= 0 then
  local new_tat = tat + interval
  redis.call('SET', KEYS[1], string.format('%.6f', new_tat),
             'PX', math.ceil((new_tat - now) * 1000) + 1)
  redis.call('ZREM', KEYS[2], ARGV[4])
  return {'0', 'ok'}
end
if ARGV[5] ~= '1' then
  local queued = redis.call('ZCARD', KEYS[2])
  local expected = wait + queued * interval
  if expected > max_wait then return {string.format('%.6f', expected), 'refused'} end
end
redis.call('ZADD', KEYS[2], now + wait + grace, ARGV[4])
redis.call('PEXPIRE', KEYS[2], math.ceil((max_wait + interval + grace) * 1000))
return {string.format('%.6f', wait), 'wait'}
"""
