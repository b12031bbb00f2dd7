"""Hourly ledger rollups in Redis: one hash per hour, one field per combination of dimensions.

Keys (``prefix`` is the store's): ``{prefix}usage:hours`` (sorted set of hour starts that have
cells) and ``{prefix}usage:hour:<hour>`` (hash: field = the dimensions as JSON, value = the
summed :data:`~poe_mcp.store._rollup.METRICS` as a JSON array). :data:`RECORD_USAGE` writes the
ledger record and adds to its cell in one script, guarded by the record's id like the plain
ledger write, so a retried write (reply lost when Redis restarted) is counted once.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from . import _rollup
from .base import UsageRecord

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RECORD_USAGE", "RollupKeys", "cell_args", "read_cells"]

# KEYS: records hash, by-ts zset, by-order zset, seq counter, hours zset, this hour's hash
# ARGV: record id, ts, payload, hour, cell field (dims JSON), cell values (JSON array)
RECORD_USAGE = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[3]) == 1 then
  local n = redis.call('INCR', KEYS[4])
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
  redis.call('ZADD', KEYS[3], n, ARGV[1])
  redis.call('ZADD', KEYS[5], ARGV[4], ARGV[4])
  local add = cjson.decode(ARGV[6])
  local old = redis.call('HGET', KEYS[6], ARGV[5])
  if old then
    local cur = cjson.decode(old)
    for i = 1, #add do add[i] = add[i] + (cur[i] or 0) end
  end
  redis.call('HSET', KEYS[6], ARGV[5], cjson.encode(add))
end
return 1
"""


class RollupKeys:
    """Key names of the rollups under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.hours = f"{prefix}usage:hours"
        self._hour = f"{prefix}usage:hour:"

    def hour(self, hour: int) -> str:
        return f"{self._hour}{hour}"


def cell_args(record: UsageRecord) -> tuple[int, str, str]:
    """``(hour, field, values)`` of the cell ``record`` adds to, as the script takes them."""
    (hour, dims), values = _rollup.cell_of(record)
    field = json.dumps(list(dims), ensure_ascii=False, separators=(",", ":"))
    return hour, field, json.dumps(values, separators=(",", ":"))


async def read_cells(
    r: Redis, keys: RollupKeys, since: float | None, until: float | None
) -> list[tuple[_rollup.Cell, list[float]]]:
    """The cells of the hours in ``[since, until)``: one round trip for the hours, one for all."""
    low: Any = "-inf" if since is None else _rollup.hour_of(since)
    high: Any = "+inf" if until is None else f"({until}"
    hours: Any = await r.zrangebyscore(keys.hours, low, high)
    if not hours:
        return []
    async with r.pipeline(transaction=False) as pipe:
        for hour in hours:
            pipe.hgetall(keys.hour(int(hour)))
        hashes: list[dict[str, str]] = await pipe.execute()
    cells: list[tuple[_rollup.Cell, list[float]]] = []
    for hour, fields in zip(hours, hashes, strict=True):
        for field, value in fields.items():
            model, provider, tier, entry, simulated, kind = json.loads(field)
            dims = (model, provider, int(tier), entry, int(simulated), kind)
            cells.append(((int(hour), dims), [float(v) for v in json.loads(value)]))
    return cells
