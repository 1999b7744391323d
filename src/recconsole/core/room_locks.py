"""Mutual exclusion per room: one start at a time, one metadata change at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol


class RoomLocks(Protocol):
    """Mutual exclusion per room, in one process or shared between processes."""

    def hold(self, room: str) -> AbstractAsyncContextManager[None]: ...


class LocalRoomLocks:
    """Per-room asyncio locks for one process."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, room: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(room, asyncio.Lock())
        self._users[room] = self._users.get(room, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[room] -= 1
            if not self._users[room]:  # forget idle rooms
                del self._users[room], self._locks[room]
