"""Where the recordings the console started are kept, so they outlive the window.

:class:`FileStartedRecordings` is a small SQLite file in the user's data folder,
shared by every console and listener process of one machine (the window and
``recconsole listen`` see the same recordings). :class:`RedisStartedRecordings`
shares them across machines when ``REDIS_URL`` is set. Entries are kept a week:
long enough to finish any recording, short enough to stay small.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from recconsole.core.recording_limits import StartedRecording

if TYPE_CHECKING:
    from redis.asyncio import Redis

from recconsole.server.locks import PREFIX

KEEP_FOR: Final = 7 * 24 * 3600

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS started (
    egress_id TEXT PRIMARY KEY,
    room TEXT NOT NULL,
    body TEXT NOT NULL,
    limited INTEGER NOT NULL,
    finished INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
"""


def _to_json(recording: StartedRecording) -> str:
    data = asdict(recording)
    data["consoles"] = list(recording.consoles)
    return json.dumps(data)


def _from_json(raw: str | bytes) -> StartedRecording:
    data: dict[str, Any] = json.loads(raw)
    data["consoles"] = tuple(data.get("consoles", ()))
    return StartedRecording(**data)


class FileStartedRecordings:
    """Started recordings in a SQLite file (one short transaction per call, in a thread).

    Calls of one process take turns: two at once (two rooms started together) would both
    set the file up the first time, and SQLite refuses one of two connections that switch
    the journal mode or upgrade their locks together ("database is locked") at once,
    without waiting. Other processes are waited for (5 s).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False
        self._turn = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=5, isolation_level=None)
        if not self._ready:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            db.execute("DELETE FROM started WHERE created < ?", (time.time() - KEEP_FOR,))
            self._ready = True
        return db

    def _run(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self._turn:
            db = self._connect()
            try:
                return db.execute(sql, args).fetchall()
            finally:
                db.close()

    async def add(self, recording: StartedRecording) -> None:
        await asyncio.to_thread(
            self._run, "INSERT OR REPLACE INTO started (egress_id, room, body, limited, created)"
            " VALUES (?, ?, ?, ?, ?)",
            (recording.egress_id, recording.room, _to_json(recording), int(recording.limited),
             time.time()))

    async def get(self, egress_id: str) -> StartedRecording | None:
        rows = await asyncio.to_thread(
            self._run, "SELECT body FROM started WHERE egress_id = ?", (egress_id,))
        return _from_json(rows[0][0]) if rows else None

    async def limited(self) -> list[StartedRecording]:
        rows = await asyncio.to_thread(
            self._run, "SELECT body FROM started WHERE limited = 1 AND finished = 0")
        return [_from_json(row[0]) for row in rows]

    async def finish(self, egress_id: str) -> None:
        await asyncio.to_thread(
            self._run, "UPDATE started SET finished = 1 WHERE egress_id = ?", (egress_id,))


class RedisStartedRecordings:
    """Started recordings in Redis: one key each, and a set of those with limits."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._limited = f"{PREFIX}started:limited"

    @staticmethod
    def _key(egress_id: str) -> str:
        return f"{PREFIX}started:{egress_id}"

    async def add(self, recording: StartedRecording) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(recording.egress_id), _to_json(recording), ex=KEEP_FOR)
            if recording.limited:
                pipe.sadd(self._limited, recording.egress_id)
            await pipe.execute()

    async def get(self, egress_id: str) -> StartedRecording | None:
        raw = await self._redis.get(self._key(egress_id))
        return _from_json(raw) if raw else None

    async def limited(self) -> list[StartedRecording]:
        ids = [i.decode() if isinstance(i, bytes) else str(i)
               for i in await self._redis.smembers(self._limited)]
        if not ids:
            return []
        found = []
        for egress_id, raw in zip(ids, await self._redis.mget([self._key(i) for i in ids]),
                                  strict=True):
            if raw:
                found.append(_from_json(raw))
            else:  # expired: forget it
                await self._redis.srem(self._limited, egress_id)
        return found

    async def finish(self, egress_id: str) -> None:
        await self._redis.srem(self._limited, egress_id)
