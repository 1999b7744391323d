"""State shared by whoever records and whoever listens: in one process, or in Redis.

- :class:`RecordingLocks`: "this room is being recorded", taken by a start and
  released by the end of *that* recording (the lock names its egress once it
  exists), by room_finished or by reconciliation; a TTL means a crash never locks
  a room out forever.
- :class:`EgressLedger`: the newest ``updated_at`` applied per egress, so a late,
  older update never moves a status back.
- :class:`EffectClaims`: which webhook effects were applied, so two listeners
  behind one URL apply each event once. A claim is short and renewed while its
  effect runs, so a killed listener holds an event for seconds, not minutes.

Every process has its own random owner token (host names and pids repeat across
machines). With ``REDIS_URL`` set the Redis versions are used and several
processes share them (as OpenVidu Meet does); without it, the in-process ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Final, Literal, Protocol

from recconsole.core import recorder

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

PREFIX: Final = "recconsole:"
Claim = Literal["claimed", "done", "busy"]

#: This process, wherever it runs: random, so no two processes ever share it.
PROCESS_TOKEN: Final = f"{socket.gethostname()[:40]}:{secrets.token_hex(8)}"


def lock_token() -> str:
    """A fresh owner for one start: the process and a random part."""
    return f"{PROCESS_TOKEN}:{secrets.token_hex(4)}"


class RecordingLocks(recorder.RecordingLocks, Protocol):
    """What the recorder needs of a recording lock, and who holds it."""

    async def owner(self, room: str) -> str | None: ...

    async def held(self, room: str) -> bool: ...


class EgressLedger(Protocol):
    async def advance(self, egress_id: str, updated_at: int) -> bool: ...


class EffectClaims(Protocol):
    async def claim(self, event_id: str) -> Claim: ...

    async def finish(self, event_id: str) -> None: ...

    async def abandon(self, event_id: str) -> None: ...


# --- in one process ------------------------------------------------------------------


class LocalRecordingLocks:
    """Per-room locks of one process; each names its owner (a start's token, then the
    egress it started)."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[str, float]] = {}  # room -> (owner, until)

    def _current(self, room: str) -> str | None:
        owner, until = self._locks.get(room, ("", 0.0))
        return owner if until > time.monotonic() else None

    async def acquire(self, room: str, ttl: float) -> str | None:
        if self._current(room) is not None:
            return None
        token = lock_token()
        self._locks[room] = (token, time.monotonic() + ttl)
        return token

    async def bind(self, room: str, token: str, egress_id: str) -> bool:
        if self._current(room) != token:
            return False
        self._locks[room] = (egress_id, self._locks[room][1])
        return True

    async def release(self, room: str, owner: str | None = None) -> bool:
        current = self._current(room)
        if current is None or (owner is not None and current != owner):
            return False
        del self._locks[room]
        return True

    async def owner(self, room: str) -> str | None:
        return self._current(room)

    async def held(self, room: str) -> bool:
        return self._current(room) is not None


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

_DELETE_IF_OWNER: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_REPLACE_IF_OWNER: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0
"""

_EXTEND_IF_OWNER: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class RedisRecordingLocks:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._replace = redis.register_script(_REPLACE_IF_OWNER)
        self._delete = redis.register_script(_DELETE_IF_OWNER)

    @staticmethod
    def _key(room: str) -> str:
        return f"{PREFIX}lock:recording:{room}"

    async def acquire(self, room: str, ttl: float) -> str | None:
        token = lock_token()
        taken = await self._redis.set(self._key(room), token, nx=True, px=int(ttl * 1000))
        return token if taken else None

    async def bind(self, room: str, token: str, egress_id: str) -> bool:
        return bool(await self._replace(keys=[self._key(room)], args=[token, egress_id]))

    async def release(self, room: str, owner: str | None = None) -> bool:
        if owner is None:
            return bool(await self._redis.delete(self._key(room)))
        return bool(await self._delete(keys=[self._key(room)], args=[owner]))

    async def owner(self, room: str) -> str | None:
        value = await self._redis.get(self._key(room))
        return value.decode() if isinstance(value, bytes) else value

    async def held(self, room: str) -> bool:
        return bool(await self._redis.exists(self._key(room)))


class RedisEgressLedger:
    def __init__(self, redis: Redis, keep_for: int = 7 * 24 * 3600) -> None:
        self._redis, self._keep_for = redis, keep_for
        self._script = redis.register_script(_ADVANCE)

    async def advance(self, egress_id: str, updated_at: int) -> bool:
        key = f"{PREFIX}egress:{egress_id}:updated"
        return bool(await self._script(keys=[key], args=[updated_at, self._keep_for]))


class RedisEffectClaims:
    """An event is claimed by one process while applied, then marked done for a day.

    The claim lives ``claim_for`` seconds and is renewed every third of that while
    its effect runs; a process that dies holds it at most ``claim_for`` seconds.
    """

    def __init__(self, redis: Redis, claim_for: float = 10.0, keep_for: int = 24 * 3600) -> None:
        self._redis, self._claim_for, self._keep_for = redis, claim_for, keep_for
        self._delete = redis.register_script(_DELETE_IF_OWNER)
        self._extend = redis.register_script(_EXTEND_IF_OWNER)
        self._renewals: dict[str, tuple[str, asyncio.Task[None]]] = {}

    @staticmethod
    def _key(event_id: str) -> str:
        return f"{PREFIX}webhook:{event_id}"

    async def claim(self, event_id: str) -> Claim:
        key, token = self._key(event_id), lock_token()
        if await self._redis.set(key, token, nx=True, px=int(self._claim_for * 1000)):
            self._renewals[event_id] = (token, asyncio.create_task(self._renew(key, token)))
            return "claimed"
        return "done" if await self._redis.get(key) == b"done" else "busy"

    async def _renew(self, key: str, token: str) -> None:
        while True:
            await asyncio.sleep(self._claim_for / 3)
            try:
                if not await self._extend(keys=[key], args=[token, int(self._claim_for * 1000)]):
                    log.warning("lost the claim on %s while applying it", key)
                    return
            except Exception as err:  # noqa: BLE001 - Redis away: the claim lapses by itself
                log.warning("could not renew the claim on %s: %s", key, err)

    async def _stop_renewing(self, event_id: str) -> str | None:
        token, task = self._renewals.pop(event_id, (None, None))
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return token

    async def finish(self, event_id: str) -> None:
        await self._stop_renewing(event_id)
        await self._redis.set(self._key(event_id), "done", ex=self._keep_for)

    async def abandon(self, event_id: str) -> None:
        token = await self._stop_renewing(event_id)
        if token is not None:
            await self._delete(keys=[self._key(event_id)], args=[token])
