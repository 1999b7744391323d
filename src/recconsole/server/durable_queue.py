"""A durable queue of webhook effects in SQLite, drained in order per room.

A webhook is acknowledged once its effect is committed here, so nothing is lost
when storage or the LiveKit server is down or the process dies: pending effects
are retried with exponential backoff and picked up again after a restart. The
event id is unique, so a redelivered webhook is recognised and not applied twice.

SQLite runs on one worker thread (never the event loop's thread), and concurrent
``put`` calls share one transaction (group commit), which keeps up with bursts.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Final, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS effects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    room TEXT NOT NULL,
    kind TEXT NOT NULL,
    body BLOB NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS effects_pending ON effects (state, room, id);
"""


@dataclass(frozen=True)
class Effect:
    """One queued webhook: what happened (kind), to which room, and the signed body."""

    id: int
    event_id: str
    room: str
    kind: str
    body: bytes
    attempts: int


@dataclass(frozen=True)
class QueueStatus:
    pending: int
    retrying: int
    done: int
    last_error: str


class DurableQueue:
    """Effects persisted in SQLite; :meth:`run` applies them until cancelled."""

    def __init__(
        self,
        path: Path,
        *,
        max_backoff: float = 60.0,
        first_backoff: float = 0.5,
        keep_done_for: float = 24 * 3600,
        concurrency: int = 16,
    ) -> None:
        self.path = path
        self.max_backoff, self.first_backoff = max_backoff, first_backoff
        self.keep_done_for = keep_done_for
        self.concurrency = concurrency
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="durable-queue")
        self._db: sqlite3.Connection | None = None
        self._pending_puts: list[tuple[tuple[str, str, str, bytes, float], asyncio.Future[bool]]]
        self._pending_puts = []
        self._flushing: asyncio.Task[None] | None = None
        self._wakeup = asyncio.Event()  # something was queued
        self._progress = asyncio.Event()  # something was applied or failed
        self._stop_requested = False

    # --- the database thread -----------------------------------------------------

    async def _db_call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._with_db, fn)

    def _with_db(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # survives a process crash
            db.executescript(_SCHEMA)
            self._db = db
        return fn(self._db)

    async def open(self) -> None:
        await self._db_call(lambda db: None)

    async def close(self) -> None:
        if self._flushing is not None:
            await self._flushing
        await self._db_call(self._close_db)
        self._pool.shutdown(wait=True)

    def _close_db(self, db: sqlite3.Connection) -> None:
        db.close()
        self._db = None

    # --- enqueue (group commit) ----------------------------------------------------

    async def put(self, event_id: str, room: str, kind: str, body: bytes) -> bool:
        """Persist an effect; False if this event id was queued before (a duplicate)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending_puts.append(((event_id, room, kind, body, time.time()), future))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending_puts:
                batch, self._pending_puts = self._pending_puts, []
                rows = [row for row, _ in batch]
                try:
                    fresh = await self._db_call(partial(_insert, rows=rows))
                except Exception as err:  # noqa: BLE001 - each waiting webhook gets the failure
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(err)
                    continue
                for (_, future), added in zip(batch, fresh, strict=True):
                    if not future.done():
                        future.set_result(added)
                self._wakeup.set()
        finally:
            self._flushing = None

    # --- drain ---------------------------------------------------------------------

    async def run(self, apply: Callable[[Effect], Awaitable[None]]) -> None:
        """Apply pending effects (oldest first per room, rooms in parallel) until cancelled."""
        limit = asyncio.Semaphore(self.concurrency)
        self._stop_requested = False
        while True:
            self._wakeup.clear()
            if self._stop_requested:
                return
            heads = await self._db_call(_room_heads)
            now = time.time()
            ready = [e for e, next_try in heads if next_try <= now]
            if ready:
                await asyncio.gather(*(self._apply_one(apply, e, limit) for e in ready))
                continue
            waits = [next_try - now for _, next_try in heads]
            try:
                await asyncio.wait_for(self._wakeup.wait(), min(waits, default=30.0))
            except TimeoutError:
                await self._db_call(lambda db: _prune(db, time.time() - self.keep_done_for))

    def request_stop(self) -> None:
        """Let :meth:`run` finish the effects in hand and return without taking new ones."""
        self._stop_requested = True
        self._wakeup.set()

    async def _apply_one(
        self, apply: Callable[[Effect], Awaitable[None]], effect: Effect, limit: asyncio.Semaphore
    ) -> None:
        async with limit:
            try:
                await apply(effect)
            except Exception as err:  # noqa: BLE001 - any failure is retried later
                delay = min(self.max_backoff, self.first_backoff * 2 ** effect.attempts)
                message = f"{type(err).__name__}: {err}"[:500]
                log.warning("webhook effect %s (%s, room %s) failed, retry in %.1f s: %s",
                            effect.event_id, effect.kind, effect.room, delay, message)
                await self._db_call(lambda db: _failed(db, effect.id, time.time() + delay,
                                                       message))
            else:
                await self._db_call(lambda db: _done(db, effect.id))
            self._progress.set()

    async def status(self, room: str | None = None) -> QueueStatus:
        """Counts of effects, of every room or of one."""
        return await self._db_call(lambda db: _status(db, room))

    async def drained(self) -> None:
        """Wait until no effect is pending (for shutdown and tests)."""
        while (await self.status()).pending:
            self._progress.clear()
            await self._progress.wait()


def _insert(db: sqlite3.Connection, rows: list[tuple[str, str, str, bytes, float]]) -> list[bool]:
    added = []
    db.execute("BEGIN")
    try:
        for row in rows:
            cur = db.execute(
                "INSERT OR IGNORE INTO effects (event_id, room, kind, body, created)"
                " VALUES (?, ?, ?, ?, ?)", row)
            added.append(cur.rowcount == 1)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return added


def _room_heads(db: sqlite3.Connection) -> list[tuple[Effect, float]]:
    rows = db.execute(
        "SELECT id, event_id, room, kind, body, attempts, next_try FROM effects"
        " WHERE id IN (SELECT MIN(id) FROM effects WHERE state = 'pending' GROUP BY room)"
    ).fetchall()
    return [(Effect(*row[:6]), row[6]) for row in rows]


def _failed(db: sqlite3.Connection, effect_id: int, next_try: float, error: str) -> None:
    db.execute("UPDATE effects SET attempts = attempts + 1, next_try = ?, last_error = ?"
               " WHERE id = ?", (next_try, error, effect_id))


def _done(db: sqlite3.Connection, effect_id: int) -> None:
    db.execute("UPDATE effects SET state = 'done', body = x'' WHERE id = ?", (effect_id,))


def _prune(db: sqlite3.Connection, before: float) -> None:
    db.execute("DELETE FROM effects WHERE state = 'done' AND created < ?", (before,))


def _status(db: sqlite3.Connection, room: str | None) -> QueueStatus:
    where, args = ("WHERE room = ?", (room,)) if room is not None else ("", ())
    pending, retrying, done = db.execute(
        "SELECT COALESCE(SUM(state = 'pending'), 0),"
        " COALESCE(SUM(state = 'pending' AND attempts > 0), 0),"
        f" COALESCE(SUM(state = 'done'), 0) FROM effects {where}", args).fetchone()
    row = db.execute("SELECT last_error FROM effects WHERE last_error != ''"
                     f" AND state = 'pending' {where.replace('WHERE', 'AND')}"
                     " ORDER BY id DESC LIMIT 1", args).fetchone()
    return QueueStatus(pending, retrying, done, row[0] if row else "")
