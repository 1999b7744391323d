"""State shared by whoever records and whoever listens: in one process, or in Redis.

- :class:`RecordingLocks`: "this room is being recorded", taken by a start and
  released by egress_ended / room_finished (or reconciliation), with a TTL so a
  crash never locks a room out forever.
- :class:`EgressLedger`: the newest ``updated_at`` applied per egress, so a late,
  older update never moves a status back.
- :class:`EffectClaims`: which webhook effects were applied, so two listeners
  behind one URL apply each event once.

With ``REDIS_URL`` set the Redis versions are used and several processes share
them (as OpenVidu Meet does); without it, the in-process ones.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Final, Literal, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis

PREFIX: Final = "recconsole:"
Claim = Literal["claimed", "done", "busy"]


class RecordingLocks(Protocol):
    async def acquire(self, room: str, ttl: float) -> bool: ...

    async def release(self, room: str) -> None: ...

    async def held(self, room: str) -> bool: ...


class EgressLedger(Protocol):
    async def advance(self, egress_id: str, updated_at: int) -> bool: ...


class EffectClaims(Protocol):
    async def claim(self, event_id: str) -> Claim: ...

    async def finish(self, event_id: str) -> None: ...

    async def abandon(self, event_id: str) -> None: ...


# --- in one process ------------------------------------------------------------------


class LocalRecordingLocks:
    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    async def acquire(self, room: str, ttl: float) -> bool:
        now = time.monotonic()
        if self._until.get(room, 0.0) > now:
            return False
        self._until[room] = now + ttl
        return True

    async def release(self, room: str) -> None:
        self._until.pop(room, None)

    async def held(self, room: str) -> bool:
        return self._until.get(room, 0.0) > time.monotonic()


class LocalEgressLedger:
    """Remembers the newest update of the last ``size`` egresses."""

    def __init__(self, size: int = 10_000) -> None:
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._size = size

    async def advance(self, egress_id: str, updated_at: int) -> bool:
        if self._seen.get(egress_id, -1) >= updated_at:
            return False
        self._seen[egress_id] = updated_at
        self._seen.move_to_end(egress_id)
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return True


class LocalEffectClaims:
    """One process: its durable queue already applies each event once."""

    async def claim(self, event_id: str) -> Claim:
        return "claimed"

    async def finish(self, event_id: str) -> None:
        return None

    async def abandon(self, event_id: str) -> None:
        return None


# --- shared through Redis ---------------------------------------------------------------

_ADVANCE: Final = """
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""

_RELEASE_IF_MINE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisRecordingLocks:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def acquire(self, room: str, ttl: float) -> bool:
        return bool(await self._redis.set(f"{PREFIX}lock:recording:{room}", _owner(),
                                          nx=True, px=int(ttl * 1000)))

    async def release(self, room: str) -> None:
        await self._redis.delete(f"{PREFIX}lock:recording:{room}")

    async def held(self, room: str) -> bool:
        return bool(await self._redis.exists(f"{PREFIX}lock:recording:{room}"))


class RedisEgressLedger:
    def __init__(self, redis: Redis, keep_for: int = 7 * 24 * 3600) -> None:
        self._redis, self._keep_for = redis, keep_for
        self._script = redis.register_script(_ADVANCE)

    async def advance(self, egress_id: str, updated_at: int) -> bool:
        key = f"{PREFIX}egress:{egress_id}:updated"
        return bool(await self._script(keys=[key], args=[updated_at, self._keep_for]))


class RedisEffectClaims:
    """An event is claimed by one process while applied, then marked done for a day."""

    def __init__(self, redis: Redis, claim_for: float = 60.0, keep_for: int = 24 * 3600) -> None:
        self._redis, self._claim_for, self._keep_for = redis, claim_for, keep_for
        self._release = redis.register_script(_RELEASE_IF_MINE)

    async def claim(self, event_id: str) -> Claim:
        key = f"{PREFIX}webhook:{event_id}"
        if await self._redis.set(key, _owner(), nx=True, px=int(self._claim_for * 1000)):
            return "claimed"
        return "done" if await self._redis.get(key) == b"done" else "busy"

    async def finish(self, event_id: str) -> None:
        await self._redis.set(f"{PREFIX}webhook:{event_id}", "done", ex=self._keep_for)

    async def abandon(self, event_id: str) -> None:
        await self._release(keys=[f"{PREFIX}webhook:{event_id}"], args=[_owner()])


def _owner() -> str:
    return f"pid:{os.getpid()}"
