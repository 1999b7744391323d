"""A durable queue of webhook effects in SQLite, drained in order per room.

A webhook is acknowledged once its effect is committed here, so nothing is lost
when storage or the LiveKit server is down or the process dies: pending effects
are retried with exponential backoff and picked up again after a restart. The
event id is unique, so a redelivered webhook is recognised and not applied twice.

Each failure has one home. An effect that can never succeed raises
:class:`PermanentError` and goes to the dead letters at once; any other failure is
retried ``max_attempts`` times and then dead-lettered. A dead letter never blocks
its room: the room's later effects go on, and :meth:`DurableQueue.replay` puts it
back when the cause is fixed.

Rooms progress independently: a room's next effect starts as soon as its previous
one is done, whatever other rooms are doing (a stalled room delays only itself).

SQLite runs on one worker thread (never the event loop's thread), and the writes that
arrive while a commit is under way (``put`` calls, effects done or failed) share the
next transaction (group commit), which keeps up with bursts. Each caller still waits
for the commit of its own write.
One process at a time applies a queue file's effects (an OS file lock), so two
listeners sharing a data folder never apply the same effect twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Final, TypeVar

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
# Added after the first release: older files gain them on open.
_LATER_COLUMNS: Final = {"dead_at": "REAL NOT NULL DEFAULT 0"}


class PermanentError(Exception):
    """This effect can never succeed (bad input): dead-lettered at once, never retried."""


class QueueBusy(Exception):
    """Another process is applying this queue file's effects."""


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
class StuckRoom:
    """A room whose oldest effect is failing and being retried."""

    room: str
    kind: str
    attempts: int
    error: str


@dataclass(frozen=True)
class DeadLetter:
    """An effect given up on: its id (for replay), what it was and why it failed."""

    id: int
    event_id: str
    room: str
    kind: str
    attempts: int
    error: str
    dead_at: float


@dataclass(frozen=True)
class QueueStatus:
    pending: int
    retrying: int
    done: int
    last_error: str
    dead: int = 0
    retrying_rooms: tuple[StuckRoom, ...] = ()


class DurableQueue:
    """Effects persisted in SQLite; :meth:`run` applies them until cancelled.

    ``on_dead(effect, reason)`` is called for every effect dead-lettered.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_backoff: float = 60.0,
        first_backoff: float = 0.5,
        max_attempts: int = 12,
        keep_done_for: float = 24 * 3600,
        concurrency: int = 16,
        on_dead: Callable[[Effect, str], None] | None = None,
    ) -> None:
        self.path = path
        self.max_backoff, self.first_backoff = max_backoff, first_backoff
        self.max_attempts = max_attempts
        self.keep_done_for = keep_done_for
        self.concurrency = concurrency
        self.on_dead = on_dead
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="durable-queue")
        self._db: sqlite3.Connection | None = None
        self._writes: list[tuple[Callable[[sqlite3.Connection], object],
                                 asyncio.Future[object]]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._wakeup = asyncio.Event()  # something was queued or finished
        self._progress = asyncio.Event()  # something was applied or failed
        self._stop_requested = False
        self._worker_lock: IO[bytes] | None = None

    # --- the database thread -----------------------------------------------------

    async def _db_call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._with_db, fn)

    def _with_db(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # survives a process crash
            db.execute("PRAGMA busy_timeout=5000")  # a second process may be writing
            db.executescript(_SCHEMA)
            have = {row[1] for row in db.execute("PRAGMA table_info(effects)")}
            for column, kind in _LATER_COLUMNS.items():
                if column not in have:
                    db.execute(f"ALTER TABLE effects ADD COLUMN {column} {kind}")
            self._db = db
        return fn(self._db)

    async def open(self) -> None:
        await self._db_call(lambda db: None)

    def claim_worker(self) -> None:
        """Become the one process applying this file's effects; QueueBusy if another is."""
        if self._worker_lock is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path.with_name(self.path.name + ".worker"), "a+b")  # noqa: SIM115
        if not _try_lock(handle):
            handle.close()
            raise QueueBusy(f"another listener applies the webhooks queued in {self.path}")
        self._worker_lock = handle

    def release_worker(self) -> None:
        if self._worker_lock is not None:
            self._worker_lock.close()  # closing the file drops the lock
            self._worker_lock = None

    async def close(self) -> None:
        if self._flushing is not None:
            await self._flushing
        await self._db_call(self._close_db)
        self._pool.shutdown(wait=True)
        self.release_worker()

    def _close_db(self, db: sqlite3.Connection) -> None:
        db.close()
        self._db = None

    # --- enqueue, and every other write (group commit) ----------------------------

    async def put(self, event_id: str, room: str, kind: str, body: bytes) -> bool:
        """Persist an effect; False if this event id was queued before (a duplicate)."""
        row = (event_id, room, kind, body, time.time())
        added = await self._write(partial(_insert, row=row))
        self._wakeup.set()
        return bool(added)

    async def _write(self, fn: Callable[[sqlite3.Connection], object]) -> object:
        """Run ``fn`` in the next transaction, with the other writes waiting for it;
        returns once that transaction is committed."""
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._writes.append((fn, future))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._writes:
                batch, self._writes = self._writes, []
                try:
                    results = await self._db_call(
                        partial(_in_one_transaction, writes=[fn for fn, _ in batch]))
                except Exception as err:  # noqa: BLE001 - each waiting writer gets the failure
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(err)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._flushing = None

    # --- drain ---------------------------------------------------------------------

    async def run(self, apply: Callable[[Effect], Awaitable[None]]) -> None:
        """Apply pending effects until stopped: oldest first per room, rooms side by side.

        A room's next effect is taken as soon as its previous one is done; at most
        ``concurrency`` effects run at once. :meth:`request_stop` lets the effects in
        hand finish; cancelling abandons them (they stay pending).
        """
        self.claim_worker()
        self._stop_requested = False
        running: dict[str, asyncio.Task[None]] = {}

        def finished(room: str, _task: asyncio.Task[None]) -> None:
            running.pop(room, None)
            self._wakeup.set()

        try:
            while not self._stop_requested:
                self._wakeup.clear()
                free = self.concurrency - len(running)
                ready, next_try = await self._db_call(
                    partial(_ready_heads, now=time.time(), busy=list(running), limit=free))
                for effect in ready:
                    task = asyncio.create_task(self._apply_one(apply, effect))
                    running[effect.room] = task
                    task.add_done_callback(partial(finished, effect.room))
                wait = 30.0 if next_try is None else max(0.0, next_try - time.time())
                if ready and len(ready) == free:
                    wait = 30.0  # full: a finishing effect wakes us up
                try:
                    # Not wait_for: on 3.11 it can swallow a cancel that meets a wakeup.
                    async with asyncio.timeout(wait):
                        await self._wakeup.wait()
                except TimeoutError:
                    if not running and next_try is None:
                        await self._db_call(partial(_prune,
                                                    before=time.time() - self.keep_done_for))
            if running:
                await asyncio.gather(*running.values(), return_exceptions=True)
        finally:
            for task in running.values():
                task.cancel()
            if running:
                await asyncio.gather(*running.values(), return_exceptions=True)

    def request_stop(self) -> None:
        """Let :meth:`run` finish the effects in hand and return without taking new ones."""
        self._stop_requested = True
        self._wakeup.set()

    async def _apply_one(self, apply: Callable[[Effect], Awaitable[None]], effect: Effect) -> None:
        try:
            await apply(effect)
        except PermanentError as err:
            await self._dead(effect, f"{err}"[:500], effect.attempts + 1)
        except Exception as err:  # noqa: BLE001 - a transient failure: retried, up to a cap
            message = f"{type(err).__name__}: {err}"[:500]
            attempts = effect.attempts + 1
            if attempts >= self.max_attempts:
                await self._dead(effect, f"gave up after {attempts} attempts: {message}",
                                 attempts)
            else:
                delay = min(self.max_backoff, self.first_backoff * 2 ** effect.attempts)
                log.warning("webhook effect %s (%s, room %s) failed, retry %d of %d in %.1f s:"
                            " %s", effect.event_id, effect.kind, effect.room, attempts,
                            self.max_attempts - 1, delay, message)
                await self._write(partial(_failed, effect_id=effect.id,
                                          next_try=time.time() + delay, error=message))
        else:
            await self._write(partial(_done, effect_id=effect.id))
        self._progress.set()

    async def _dead(self, effect: Effect, reason: str, attempts: int) -> None:
        log.error("webhook effect %s (%s, room %s) dead-lettered: %s",
                  effect.event_id, effect.kind, effect.room, reason)
        await self._write(partial(_to_dead, effect_id=effect.id, attempts=attempts,
                                  error=reason))
        if self.on_dead is not None:
            self.on_dead(effect, reason)

    # --- looking and replaying -------------------------------------------------------

    async def status(self, room: str | None = None) -> QueueStatus:
        """Counts of effects, of every room or of one, and the rooms retrying."""
        return await self._db_call(partial(_status, room=room))

    async def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        """The effects given up on, oldest first."""
        return await self._db_call(partial(_dead_letters, limit=limit))

    async def replay(self, ids: Iterable[int] | None = None) -> int:
        """Put dead letters (these ``ids``, or all) back in the queue; returns how many."""
        count = await self._db_call(partial(_replay, ids=None if ids is None else list(ids)))
        self._wakeup.set()
        return count

    async def drained(self) -> None:
        """Wait until no effect is pending (for shutdown and tests)."""
        while True:
            self._progress.clear()  # before looking: progress made meanwhile is not missed
            if not (await self.status()).pending:
                return
            await self._progress.wait()


def _try_lock(handle: IO[bytes]) -> bool:
    """An exclusive lock on an open file, without waiting; False if another holds it."""
    try:
        if sys.platform == "win32":
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    with contextlib.suppress(OSError):
        handle.truncate(0)
        handle.write(str(os.getpid()).encode())
        handle.flush()
    return True


def _in_one_transaction(
    db: sqlite3.Connection, writes: list[Callable[[sqlite3.Connection], object]]
) -> list[object]:
    db.execute("BEGIN IMMEDIATE")  # a second process's writes wait (busy_timeout)
    try:
        results = [write(db) for write in writes]
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return results


def _insert(db: sqlite3.Connection, row: tuple[str, str, str, bytes, float]) -> bool:
    cur = db.execute("INSERT OR IGNORE INTO effects (event_id, room, kind, body, created)"
                     " VALUES (?, ?, ?, ?, ?)", row)
    return cur.rowcount == 1


def _ready_heads(
    db: sqlite3.Connection, now: float, busy: list[str], limit: int
) -> tuple[list[Effect], float | None]:
    """Up to ``limit`` oldest effects of rooms not in ``busy`` that are due, and when the
    next not-yet-due one will be."""
    heads = db.execute(
        "SELECT id, event_id, room, kind, body, attempts, next_try FROM effects"
        " WHERE id IN (SELECT MIN(id) FROM effects WHERE state = 'pending' GROUP BY room)"
        " ORDER BY id").fetchall()
    skip = set(busy)
    ready: list[Effect] = []
    later: float | None = None
    for row in heads:
        if row[2] in skip:
            continue
        if row[6] > now:
            later = row[6] if later is None else min(later, row[6])
        elif len(ready) < limit:
            ready.append(Effect(*row[:6]))
    return ready, later


def _failed(db: sqlite3.Connection, effect_id: int, next_try: float, error: str) -> None:
    db.execute("UPDATE effects SET attempts = attempts + 1, next_try = ?, last_error = ?"
               " WHERE id = ?", (next_try, error, effect_id))


def _to_dead(db: sqlite3.Connection, effect_id: int, attempts: int, error: str) -> None:
    db.execute("UPDATE effects SET state = 'dead', attempts = ?, last_error = ?, dead_at = ?"
               " WHERE id = ?", (attempts, error, time.time(), effect_id))


def _done(db: sqlite3.Connection, effect_id: int) -> None:
    db.execute("UPDATE effects SET state = 'done', body = x'' WHERE id = ?", (effect_id,))


def _prune(db: sqlite3.Connection, before: float) -> None:
    db.execute("DELETE FROM effects WHERE state = 'done' AND created < ?", (before,))


def _replay(db: sqlite3.Connection, ids: list[int] | None) -> int:
    sql = ("UPDATE effects SET state = 'pending', attempts = 0, next_try = 0, last_error = '',"
           " dead_at = 0 WHERE state = 'dead'")
    if ids is None:
        return db.execute(sql).rowcount
    return sum(db.execute(sql + " AND id = ?", (i,)).rowcount for i in ids)


def _dead_letters(db: sqlite3.Connection, limit: int) -> list[DeadLetter]:
    rows = db.execute(
        "SELECT id, event_id, room, kind, attempts, last_error, dead_at FROM effects"
        " WHERE state = 'dead' ORDER BY id LIMIT ?", (limit,)).fetchall()
    return [DeadLetter(*row) for row in rows]


def _status(db: sqlite3.Connection, room: str | None) -> QueueStatus:
    where, args = ("WHERE room = ?", (room,)) if room is not None else ("", ())
    pending, retrying, done, dead = db.execute(
        "SELECT COALESCE(SUM(state = 'pending'), 0),"
        " COALESCE(SUM(state = 'pending' AND attempts > 0), 0),"
        " COALESCE(SUM(state = 'done'), 0),"
        f" COALESCE(SUM(state = 'dead'), 0) FROM effects {where}", args).fetchone()
    also = where.replace("WHERE", "AND")
    row = db.execute("SELECT last_error FROM effects WHERE last_error != ''"
                     f" AND state = 'pending' {also} ORDER BY id DESC LIMIT 1", args).fetchone()
    stuck = db.execute(
        "SELECT room, kind, attempts, last_error FROM effects WHERE state = 'pending'"
        f" AND attempts > 0 {also} AND id IN"
        " (SELECT MIN(id) FROM effects WHERE state = 'pending' GROUP BY room)"
        " ORDER BY id", args).fetchall()
    return QueueStatus(pending, retrying, done, row[0] if row else "", dead,
                       tuple(StuckRoom(*r) for r in stuck))
