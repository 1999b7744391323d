"""The last known recordings of each store, kept in SQLite so a new console shows them at once.

One row per recording file, under a scope naming the store, its bucket or container and
the recordings path, with the ETag and date of the metadata file the row was read from.
The index is a cache: a listing reconciles it with the store, and a file that cannot be
read is started over. SQLite calls are blocking; every method runs them in a thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from recconsole.core.recording_info import MetadataState, RecordingInfo
from recconsole.settings import user_data_dir

log = logging.getLogger(__name__)

_T = TypeVar("_T")

SCHEMA_VERSION: Final = 1
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS recordings (
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    meta_etag TEXT,          -- NULL: no metadata file; '': one of an unknown version
    meta_modified REAL,      -- the metadata file's date, seconds since the epoch
    state TEXT NOT NULL,
    id TEXT NOT NULL,
    room_name TEXT NOT NULL,
    room_id TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    duration REAL NOT NULL,
    size INTEGER NOT NULL,
    extra TEXT,              -- JSON object of the metadata's other keys; NULL if none
    PRIMARY KEY (scope, name)
) WITHOUT ROWID
"""
_STATES: Final = {state.value: state for state in MetadataState}
_COLUMNS: Final = ("name, meta_etag, meta_modified, state, id, room_name, room_id, "
                   "started_at, duration, size, extra")


def recordings_index_path(data_dir: Path | None = None) -> Path:
    """Where the console keeps its recordings index (the user's data folder)."""
    return (data_dir or user_data_dir()) / "recordings-index.sqlite3"


@dataclass(frozen=True)
class IndexedRecording:
    """A row as last listed, and the metadata file version it came from."""

    row: RecordingInfo
    meta_etag: str | None = None  # None: no metadata file; "": a version not yet listed
    meta_modified: float | None = None

    def same_as(self, other: IndexedRecording | None) -> bool:
        """Whether ``other`` holds the very same row (extra keys included)."""
        return (other is not None and self == other
                and self.row.extra == other.row.extra)


def _record(scope: str, entry: IndexedRecording) -> tuple[object, ...]:
    row = entry.row
    return (scope, row.name, entry.meta_etag, entry.meta_modified, row.metadata.value, row.id,
            row.room_name, row.room_id, row.started_at, row.duration, row.size,
            json.dumps(row.extra, separators=(",", ":")) if row.extra else None)


def _entry(record: tuple[Any, ...]) -> IndexedRecording:
    (name, meta_etag, meta_modified, state, id_, room_name, room_id, started_at, duration,
     size, extra) = record
    row = RecordingInfo(
        id=str(id_), name=str(name), room_name=str(room_name), room_id=str(room_id),
        started_at=int(started_at), duration=float(duration), size=int(size),
        extra=json.loads(extra) if isinstance(extra, str) else {},
        metadata=_STATES[state],
    )
    return IndexedRecording(row, meta_etag, meta_modified)


class RecordingsIndex:
    """A persistent index of recordings, one scope per store and recordings path.

    Failures of the file itself (unreadable, full disk) are logged and never reach the
    caller: a listing from the store works without the index.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._open()
            except sqlite3.DatabaseError as err:  # not a database, or a broken one
                log.warning("recordings index %s is unreadable (%s); starting it over",
                            self.path, err)
                self.path.unlink(missing_ok=True)
                self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # a cache: losing the last write is fine
            if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                db.execute("DROP TABLE IF EXISTS recordings")
                db.execute(_SCHEMA)
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _run(self, work: Callable[[sqlite3.Connection], _T], fallback: _T) -> _T:
        with self._lock:
            try:
                return work(self._connect())
            except (sqlite3.Error, OSError, ValueError) as err:
                log.warning("recordings index %s: %s", self.path, err)
                return fallback

    async def load(self, scope: str) -> dict[str, IndexedRecording]:
        """Every recording last known in ``scope``, by name."""
        def load(db: sqlite3.Connection) -> dict[str, IndexedRecording]:
            records = db.execute(f"SELECT {_COLUMNS} FROM recordings WHERE scope = ?",
                                 (scope,)).fetchall()
            return {entry.row.name: entry for entry in map(_entry, records)}
        return await asyncio.to_thread(self._run, load, {})

    async def apply(
        self, scope: str, put: Iterable[IndexedRecording] = (), remove: Iterable[str] = ()
    ) -> None:
        """Add or replace ``put`` and drop the recordings named in ``remove``, at once."""
        records = [_record(scope, entry) for entry in put]
        gone = [(scope, name) for name in remove]
        if not records and not gone:
            return

        def apply(db: sqlite3.Connection) -> None:
            with db:  # one transaction
                db.execute("BEGIN")
                db.executemany(f"INSERT OR REPLACE INTO recordings (scope, {_COLUMNS}) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", records)
                db.executemany("DELETE FROM recordings WHERE scope = ? AND name = ?", gone)
        await asyncio.to_thread(self._run, apply, None)

    async def close(self) -> None:
        def close() -> None:
            with self._lock:
                if self._db is not None:
                    self._db.close()
                    self._db = None
        await asyncio.to_thread(close)
