"""Hourly ledger rollups in Redis: per hour, dimension and simulated flag, sums apart from latency.

Keys (``prefix`` is the store's; layout :data:`LAYOUT`, version 2):

- ``{prefix}usage:hours``: sorted set of the hour starts that have cells;
- ``{prefix}usage:sums:<hour>:<dimension>:<simulated 0|1>``: hash, field = the value (a model,
  a provider...), value = the summed :data:`~poe_mcp.store._rollup.SUMS` (10 numbers);
- ``{prefix}usage:lat:<hour>:<dimension>:<simulated 0|1>``: hash, same fields, value = the
  latency histogram (:data:`~poe_mcp.store._rollup.LATENCY_COLUMNS`);
- ``{prefix}usage:rollup-layout``: the layout version the cells follow.

Values are MessagePack arrays (the cheapest array format Redis's Lua reads). Splitting by the
simulated flag and keeping the histogram apart lets a query read only what it shows: the
dashboard's charts (real calls, no percentiles) read a tenth of what one hash per hour and
dimension holding everything made them unpack.

:data:`RECORD_USAGE` writes the ledger record and adds to its cells in one script, guarded by
the record's id like the plain ledger write, so a retried write (reply lost when Redis
restarted) is counted once. It adds to cells only once the layout key says :data:`LAYOUT`
(it sets the key itself for the first record of an empty ledger, so a Redis restarted empty
keeps rolling up); :func:`ensure_layout` sets it and rolls up, from the ledger, the records
written before (by an older poe-mcp with another layout, version 1 = one hash per hour and
dimension, which it deletes). :data:`QUERY` sums one dimension's hashes over the hours shown
inside Redis and returns only the groups.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgpack

from .. import _constants as C
from . import _rollup
from .base import UsageRecord

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "ADD_CELLS",
    "CLAIM_LAYOUT",
    "LAYOUT",
    "QUERY",
    "RECORD_USAGE",
    "RollupKeys",
    "cell_args",
    "ensure_layout",
    "query",
    "write_cells",
]

LAYOUT = "2"
_LATENCY_WIDTH = len(_rollup.LATENCY_COLUMNS)

# KEYS: records hash, by-ts zset, by-order zset, seq counter, hours zset, layout key, then per
#       dimension its sums hash and its latency hash for this hour
# ARGV: record id, ts, payload, hour, sums (JSON array), latency bucket (1-based), layout,
#       histogram width, then one field (the value) per dimension
RECORD_USAGE = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[3]) == 1 then
  local n = redis.call('INCR', KEYS[4])
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
  redis.call('ZADD', KEYS[3], n, ARGV[1])
  local layout = redis.call('GET', KEYS[6])
  if n == 1 and not layout then  -- the first record of an empty ledger (a new or flushed Redis)
    redis.call('SET', KEYS[6], ARGV[7])
    layout = ARGV[7]
  end
  if layout == ARGV[7] then
    redis.call('ZADD', KEYS[5], ARGV[4], ARGV[4])
    local add = cjson.decode(ARGV[5])
    local b = tonumber(ARGV[6])
    local width = tonumber(ARGV[8])
    for d = 1, (#KEYS - 6) / 2 do
      local field = ARGV[8 + d]
      local skey, lkey = KEYS[5 + 2 * d], KEYS[6 + 2 * d]
      local old = redis.call('HGET', skey, field)
      local sum = {}
      if old then
        local cur = cmsgpack.unpack(old)
        for i = 1, #add do sum[i] = add[i] + (cur[i] or 0) end
      else
        for i = 1, #add do sum[i] = add[i] end
      end
      redis.call('HSET', skey, field, cmsgpack.pack(sum))
      old = redis.call('HGET', lkey, field)
      local hist
      if old then
        hist = cmsgpack.unpack(old)
      else
        hist = {}
        for i = 1, width do hist[i] = 0 end
      end
      hist[b] = (hist[b] or 0) + 1
      redis.call('HSET', lkey, field, cmsgpack.pack(hist))
    end
  end
end
return 1
"""

# Adds folded cells (a rebuild, the benchmark): KEYS: one hash per cell; ARGV: per cell its
# field and its values (JSON array), in KEYS order.
ADD_CELLS = """
for i = 1, #KEYS do
  local add = cjson.decode(ARGV[2 * i])
  local old = redis.call('HGET', KEYS[i], ARGV[2 * i - 1])
  if old then
    local cur = cmsgpack.unpack(old)
    for k = 1, #add do add[k] = add[k] + (cur[k] or 0) end
  end
  redis.call('HSET', KEYS[i], ARGV[2 * i - 1], cmsgpack.pack(add))
end
return 1
"""

# Switches the cells to this layout once: KEYS: layout key, seq counter; ARGV: layout.
# Returns -1 when already on it, else the ledger's last order number: the records up to it
# are rolled up by the caller, later ones by RECORD_USAGE itself.
CLAIM_LAYOUT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return -1 end
redis.call('SET', KEYS[1], ARGV[1])
return tonumber(redis.call('GET', KEYS[2]) or '0')
"""


class RollupKeys:
    """Key names of the rollups under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.hours = f"{prefix}usage:hours"
        self.layout = f"{prefix}usage:rollup-layout"
        self._sums = f"{prefix}usage:sums:"
        self._lat = f"{prefix}usage:lat:"
        self._v1 = f"{prefix}usage:hour:"

    def sums(self, hour: int, dimension: str, simulated: int) -> str:
        """The hash of one hour's, dimension's and simulated flag's sums."""
        return f"{self._sums}{hour}:{dimension}:{simulated}"

    def latency(self, hour: int, dimension: str, simulated: int) -> str:
        """The hash of one hour's, dimension's and simulated flag's latency histograms."""
        return f"{self._lat}{hour}:{dimension}:{simulated}"

    def v1(self, hour: int, dimension: str) -> str:
        """A layout-1 hash (every cell of one hour and dimension), deleted by the rebuild."""
        return f"{self._v1}{hour}:{dimension}"


def cell_args(record: UsageRecord) -> tuple[list[str], list[Any]]:
    """What :data:`RECORD_USAGE` needs of a record's cells, besides the ledger's own keys.

    Args:
        record: the ledger row.

    Returns:
        ``hour:dimension:simulated`` of each cell (made keys by :func:`record_keys`), and the
        script's arguments from the hour on.
    """
    cells, values = _rollup.cells_of(record)
    hour, sim = cells[0][0], cells[0][3]
    sums = json.dumps(values[: len(_rollup.SUMS)], separators=(",", ":"))
    bucket = _rollup.latency_bucket(record.latency_s) + 1
    dims = [dim for _, dim, _, _ in cells]
    args: list[Any] = [hour, sums, bucket, LAYOUT, _LATENCY_WIDTH, *(v for _, _, v, _ in cells)]
    return [f"{hour}:{d}:{sim}" for d in dims], args


def record_keys(keys: RollupKeys, parts: list[str]) -> list[str]:
    """The rollup keys of :data:`RECORD_USAGE`: hours, layout, then sums and latency hashes.

    Args:
        keys: the store's rollup key names.
        parts: ``hour:dimension:simulated`` of each cell, from :func:`cell_args`.

    Returns:
        The keys in the script's order.
    """
    out = [keys.hours, keys.layout]
    for part in parts:
        out += [keys._sums + part, keys._lat + part]
    return out


async def write_cells(
    pipe: Any, script: Any, keys: RollupKeys, cells: Mapping[_rollup.Cell, list[float]]
) -> None:
    """Queue, on a pipeline, the addition of folded cells (:func:`_rollup.fold`) in this layout.

    Args:
        pipe: a redis-py pipeline (not executed here).
        script: :data:`ADD_CELLS` registered on the client.
        keys: the store's rollup key names.
        cells: the folded cells.
    """
    n = len(_rollup.SUMS)
    items = list(cells.items())
    for start in range(0, len(items), C.REDIS_SCAN_BATCH):
        chunk = items[start : start + C.REDIS_SCAN_BATCH]
        hashes: list[str] = []
        args: list[str] = []
        for (hour, dim, value, sim), values in chunk:
            pipe.zadd(keys.hours, {str(hour): hour})
            hashes += [keys.sums(hour, dim, sim), keys.latency(hour, dim, sim)]
            args += [value, json.dumps(values[:n]), value, json.dumps(values[n:])]
        await script(keys=hashes, args=args, client=pipe)


async def ensure_layout(
    r: Redis,
    scripts: Any,
    keys: RollupKeys,
    ledger: tuple[str, str, str],
    decode: Any,
) -> None:
    """Switch the cells to :data:`LAYOUT`, rebuilding them from the ledger when older.

    Once per store: a no-op (one script call) when the layout key already says
    :data:`LAYOUT`. Otherwise the first caller claims it, deletes layout-1 hashes and rolls up
    every record written before the claim; records written after are rolled up on write.

    Args:
        r: the client.
        scripts: the registered scripts (``claim_layout``, ``add_cells``).
        keys: the store's rollup key names.
        ledger: the records hash, the by-order sorted set and the sequence counter.
        decode: turns a stored record payload into a :class:`UsageRecord`.
    """
    records, by_order, seq = ledger
    upto = int(await scripts.claim_layout(keys=[keys.layout, seq], args=[LAYOUT], client=r))
    if upto < 0:
        return
    hours: Any = await r.zrange(keys.hours, 0, -1)
    old = [keys.v1(int(h), d) for h in hours for d in _rollup.DIMENSIONS]
    for start in range(0, len(old), C.REDIS_SCAN_BATCH):
        await r.delete(*old[start : start + C.REDIS_SCAN_BATCH])
    ids: Any = await r.zrangebyscore(by_order, "-inf", upto)
    for start in range(0, len(ids), C.REDIS_SCAN_BATCH):
        chunk = ids[start : start + C.REDIS_SCAN_BATCH]
        payloads: Any = await r.hmget(records, chunk)
        cells = _rollup.fold(decode(p) for p in payloads if p)
        async with r.pipeline(transaction=False) as pipe:
            await write_cells(pipe, scripts.add_cells, keys, cells)
            await pipe.execute()


# Sums one dimension's cells server-side, so one small reply crosses the wire instead of every
# cell (redis-py's parser made reading thousands of cells slower than the query itself).
# KEYS: per (hour, simulated flag) its sums hash, then its latency hash when asked for
# ARGV: bucket seconds (0: one bucket), grouping ('' none, 'value', 'simulated'), '1' to add
#       the latency histograms, then the hour and the simulated flag of each key group
# Returns MessagePack ('' when empty): [[bucket start or '', key or '', [sums..., histogram...]],
# ...]; not JSON, whose float formatting took half the script's time on long series (and kept
# 14 digits).
QUERY = """
local bucket = tonumber(ARGV[1])
local mode = ARGV[2]
local lat = ARGV[3] == '1'
local stride = 1
if lat then stride = 2 end
local groups, out = {}, {}
for g = 1, #KEYS / stride do
  local hour = tonumber(ARGV[2 + 2 * g])
  local sim = ARGV[3 + 2 * g]
  local start = ''
  if bucket > 0 then start = hour - (hour % bucket) end
  local in_bucket = groups[start]
  if not in_bucket then
    in_bucket = {}
    groups[start] = in_bucket
  end
  local flat = redis.call('HGETALL', KEYS[(g - 1) * stride + 1])
  local hist = {}
  if lat and #flat > 0 then
    local fields = {}
    for j = 1, #flat, 2 do fields[#fields + 1] = flat[j] end
    hist = redis.call('HMGET', KEYS[g * stride], unpack(fields))
  end
  for j = 1, #flat, 2 do
    local key = ''
    if mode == 'value' then key = flat[j] elseif mode == 'simulated' then key = sim end
    local add = cmsgpack.unpack(flat[j + 1])
    local n = #add
    if lat then
      local h = hist[(j + 1) / 2]
      if h then
        for k, v in ipairs(cmsgpack.unpack(h)) do add[n + k] = v end
      end
    end
    local cur = in_bucket[key]
    if cur then
      for k = 1, #add do cur[k] = (cur[k] or 0) + add[k] end
    else
      in_bucket[key] = add
      out[#out + 1] = {start, key, add}
    end
  end
end
if #out == 0 then return '' end
return cmsgpack.pack(out)
"""


async def _evalsha_bytes(r: Redis, script: Any, keys: list[str], args: list[Any]) -> bytes:
    """Run a registered script and return its reply undecoded (the client decodes to str)."""
    from redis.client import NEVER_DECODE
    from redis.exceptions import NoScriptError

    execute: Any = r.execute_command  # untyped in redis-py
    try:
        reply: Any = await execute(
            "EVALSHA", script.sha, len(keys), *keys, *args, **{NEVER_DECODE: True}
        )
    except NoScriptError:  # Redis restarted or flushed its scripts: load it again
        script.sha = await r.script_load(script.script)
        reply = await execute(
            "EVALSHA", script.sha, len(keys), *keys, *args, **{NEVER_DECODE: True}
        )
    return bytes(reply)


async def query(
    r: Redis, script: Any, keys: RollupKeys, q: _rollup.RollupQuery
) -> list[_rollup.RollupGroup]:
    """:func:`~poe_mcp.store._rollup.summarise`'s answer, summed by Redis (:data:`QUERY`)."""
    low: Any = "-inf" if q.since is None else _rollup.hour_of(q.since)
    high: Any = "+inf" if q.until is None else f"({q.until}"
    hours: Any = await r.zrangebyscore(keys.hours, low, high)
    if not hours:
        return []
    by, dimension = q.by, q.dimension
    seconds = {None: 0, "hour": 3600, "day": 86_400}[q.bucket]
    mode = "" if by is None else "simulated" if by == "simulated" else "value"
    flags = (0, 1) if q.simulated is None else (int(q.simulated),)
    names: list[str] = []
    args: list[Any] = [seconds, mode, "1" if q.latency else "0"]
    for h in hours:
        hour = int(h)
        for sim in flags:
            names.append(keys.sums(hour, dimension, sim))
            if q.latency:
                names.append(keys.latency(hour, dimension, sim))
            args += [hour, sim]
    reply = await _evalsha_bytes(r, script, names, args)
    if not reply:
        return []
    simulated_key = {"1": "simulated", "0": "real"}
    groups = []
    group_of = _rollup.group_of
    for start, key, sums in msgpack.unpackb(reply):
        if by is None:
            key = None
        elif by == "simulated":
            key = simulated_key[str(key)]
        if sums[0]:
            groups.append(group_of(None if start == "" else float(start), key, sums))
    return _rollup.sort_rollup(groups)
