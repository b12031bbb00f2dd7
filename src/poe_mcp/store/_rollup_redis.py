"""Hourly ledger rollups in Redis: one hash per hour and dimension, one field per value.

Keys (``prefix`` is the store's): ``{prefix}usage:hours`` (sorted set of hour starts that have
cells) and ``{prefix}usage:hour:<hour>:<dimension>`` (hash: field = the simulated flag ``0|1``,
a unit separator, then the value; value = the summed :data:`~poe_mcp.store._rollup.METRICS`,
MessagePack-encoded, the cheapest array format Redis's Lua reads).

:data:`RECORD_USAGE` writes the ledger record and adds to its cells in one script, guarded by
the record's id like the plain ledger write, so a retried write (reply lost when Redis
restarted) is counted once. :data:`QUERY` sums one dimension's hashes over the hours shown
inside Redis and returns only the groups.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from . import _rollup
from .base import UsageRecord

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["QUERY", "RECORD_USAGE", "RollupKeys", "cell_args", "query"]

# KEYS: records hash, by-ts zset, by-order zset, seq counter, hours zset, then one hash per
#       dimension for this hour
# ARGV: record id, ts, payload, hour, values (JSON array), then one field per dimension
RECORD_USAGE = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[3]) == 1 then
  local n = redis.call('INCR', KEYS[4])
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
  redis.call('ZADD', KEYS[3], n, ARGV[1])
  redis.call('ZADD', KEYS[5], ARGV[4], ARGV[4])
  local add = cjson.decode(ARGV[5])
  for d = 6, #KEYS do
    local field = ARGV[d]
    local old = redis.call('HGET', KEYS[d], field)
    local sum = {}
    if old then
      local cur = cmsgpack.unpack(old)
      for i = 1, #add do sum[i] = add[i] + (cur[i] or 0) end
    else
      for i = 1, #add do sum[i] = add[i] end
    end
    redis.call('HSET', KEYS[d], field, cmsgpack.pack(sum))
  end
end
return 1
"""


class RollupKeys:
    """Key names of the rollups under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.hours = f"{prefix}usage:hours"
        self._hour = f"{prefix}usage:hour:"

    def hour(self, hour: int, dimension: str) -> str:
        return f"{self._hour}{hour}:{dimension}"


def field_of(value: str, simulated: int) -> str:
    """A cell's field in its hour's hash: the simulated flag, a separator, the value."""
    return f"{simulated}\x1f{value}"


def cell_args(record: UsageRecord) -> tuple[int, list[tuple[str, str]], str]:
    """``(hour, [(dimension, field)...], values)`` of the cells ``record`` adds to."""
    cells, values = _rollup.cells_of(record)
    fields = [(dim, field_of(value, sim)) for _, dim, value, sim in cells]
    return cells[0][0], fields, json.dumps(values, separators=(",", ":"))


# Sums one dimension's cells server-side, so one small reply crosses the wire instead of every
# cell (redis-py's parser made reading thousands of cells slower than the query itself).
# KEYS: the hashes of one dimension, one per hour
# ARGV: bucket seconds (0: one bucket), grouping ('' none, 'value', 'simulated'),
#       simulated filter ('', '0', '1'), how many leading sums to add (without the latency
#       histogram: fewer), then the hour of each key
# Returns JSON: [[bucket start or '', key or '', [sums...]], ...]
QUERY = """
local bucket = tonumber(ARGV[1])
local mode = ARGV[2]
local only = ARGV[3]
local width = tonumber(ARGV[4])
local sums, order = {}, {}
for i = 1, #KEYS do
  local hour = tonumber(ARGV[4 + i])
  local start = ''
  if bucket > 0 then start = hour - (hour % bucket) end
  local flat = redis.call('HGETALL', KEYS[i])
  for j = 1, #flat, 2 do
    local sim = string.sub(flat[j], 1, 1)
    if only == '' or only == sim then
      local key = ''
      if mode == 'value' then
        key = string.sub(flat[j], 3)
      elseif mode == 'simulated' then
        key = sim
      end
      local id = tostring(start) .. '|' .. key
      local add = cmsgpack.unpack(flat[j + 1])
      local cur = sums[id]
      if cur then
        for k = 1, width do cur[k] = cur[k] + (add[k] or 0) end
      else
        cur = {}
        for k = 1, width do cur[k] = add[k] or 0 end
        sums[id] = cur
        order[#order + 1] = {start, key, id}
      end
    end
  end
end
local out = {}
for _, o in ipairs(order) do out[#out + 1] = {o[1], o[2], sums[o[3]]} end
if #out == 0 then return '[]' end
return cjson.encode(out)
"""


async def query(
    r: Redis,
    script: Any,
    keys: RollupKeys,
    *,
    since: float | None,
    until: float | None,
    bucket: _rollup.Bucket | None,
    by: _rollup.RollupBy | None,
    simulated: bool | None,
    latency: bool = True,
) -> list[_rollup.RollupGroup]:
    """:func:`~poe_mcp.store._rollup.summarise`'s answer, summed by Redis (:data:`QUERY`)."""
    low: Any = "-inf" if since is None else _rollup.hour_of(since)
    high: Any = "+inf" if until is None else f"({until}"
    hours: Any = await r.zrangebyscore(keys.hours, low, high)
    if not hours:
        return []
    dimension = _rollup.dimension_for(by)
    seconds = {None: 0, "hour": 3600, "day": 86_400}[bucket]
    mode = "" if by is None else "simulated" if by == "simulated" else "value"
    only = "" if simulated is None else str(int(simulated))
    reply: Any = await script(
        keys=[keys.hour(int(h), dimension) for h in hours],
        args=[seconds, mode, only, len(_rollup.METRICS if latency else _rollup.SUMS), *hours],
        client=r,
    )
    groups = []
    for start, key, sums in json.loads(reply):
        if by == "simulated":
            key = "simulated" if key == "1" else "real"
        groups.append(
            _rollup.group_of(
                None if start == "" else float(start), None if by is None else key, sums
            )
        )
    return _rollup.sort_rollup([g for g in groups if g.totals.calls])
