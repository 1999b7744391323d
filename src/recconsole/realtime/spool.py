"""The spool folder of recordings made on this computer, and their upload.

Each recording is written as ``<id>.mp4`` beside ``<id>.json`` (room, room id, the
name it gets in the store, start time). Both stay until the recording is in the
store with its metadata file; whatever a crash, a power cut or a storage outage
leaves behind is found at the next start and uploaded then (:meth:`Spool.pending`).
Its upload's progress is kept beside them too (``<id>.upload.mp4``, the file as
uploaded, and ``<id>.upload.json``, the parts the store has), so an upload cut short
goes on from where it stopped, in this run or the next.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recconsole.core.recording_info import RecordingInfo
from recconsole.realtime.mp4_writer import FinishedFile, finish_file
from recconsole.settings import user_data_dir
from recconsole.storage.base import FileJournal, KeyRefused, StoreError
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.thumbnails import Thumbnails

log = logging.getLogger(__name__)

LOCAL_ID_PREFIX = "LOCAL_"  # in place of an egress id: made on a console's computer
RECORDED_BY = {"recordedBy": "console"}  # the extra metadata key of such a recording


def spool_dir() -> Path:
    """Where recordings made on this computer wait for their upload."""
    return user_data_dir() / "local-recordings"


def local_id() -> str:
    return f"{LOCAL_ID_PREFIX}{secrets.token_hex(6)}"


def recording_name(room: str, room_id: str, started: datetime, tag: str | None = None) -> str:
    """``{room}-{room_id}-{time}-<tag>.mp4``, as the console asks an egress to name it."""
    when = started.astimezone(UTC).strftime("%Y-%m-%dT%H%M%S")
    return f"{room}-{room_id}-{when}-{tag or secrets.token_hex(3)}.mp4"


@dataclass(frozen=True)
class SpooledRecording:
    """One recording in the spool folder."""

    id: str
    room: str
    room_id: str
    name: str  # its name in the store, below RECORDINGS_PATH
    started_at: int  # milliseconds since the epoch
    folder: Path
    extra: dict[str, Any] = field(default_factory=dict, hash=False)  # its own metadata keys

    @property
    def video(self) -> Path:
        return self.folder / f"{self.id}.mp4"

    @property
    def plan(self) -> Path:
        return self.folder / f"{self.id}.json"

    @property
    def finished(self) -> Path:
        return self.folder / f"{self.id}.upload.mp4"

    @property
    def journal(self) -> Path:
        """What its upload has sent so far (an upload in parts)."""
        return self.folder / f"{self.id}.upload.json"


class Spool:
    """The folder recordings are written to before they go to the store."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def new(self, room: str, room_id: str, started: datetime, *, tag: str | None = None,
            extra: dict[str, Any] | None = None) -> SpooledRecording:
        """A new recording's entry (its plan written now; its video comes next).

        ``tag`` ends its name (random if None); ``extra`` goes into its metadata.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        spooled = SpooledRecording(local_id(), room, room_id,
                                   recording_name(room, room_id, started, tag),
                                   int(started.timestamp() * 1000), self.folder,
                                   dict(extra or {}))
        plan = {**{k: v for k, v in asdict(spooled).items() if k != "folder"},
                "pid": os.getpid()}
        FileJournal(spooled.plan).save(plan)  # written whole or not at all
        return spooled

    def pending(self, busy: Collection[str] = ()) -> list[SpooledRecording]:
        """Recordings spooled and not yet in the store, oldest first.

        Left out: ``busy`` ids (this process records them) and those another
        running process on this computer is still recording.
        """
        found = []
        for plan in sorted(self.folder.glob(f"{LOCAL_ID_PREFIX}*.json")):
            if plan.name.count(".") > 1:  # an upload's journal, not a plan
                continue
            try:
                data = json.loads(plan.read_text())
                if data["id"] in busy or _recording_elsewhere(int(data.get("pid", 0))):
                    continue
                extra = data.get("extra") or {}
                found.append(SpooledRecording(
                    str(data["id"]), str(data["room"]), str(data["room_id"]),
                    str(data["name"]), int(data["started_at"]), self.folder,
                    dict(extra) if isinstance(extra, dict) else {}))
            except (OSError, ValueError, KeyError, TypeError) as err:
                log.warning("spooled recording plan %s is unreadable: %s", plan.name, err)
        return sorted(found, key=lambda s: s.started_at)

    @staticmethod
    def set_aside(spooled: SpooledRecording) -> None:
        """Stop trying a recording that holds nothing playable (its file is kept)."""
        spooled.finished.unlink(missing_ok=True)
        spooled.plan.replace(spooled.plan.with_name(spooled.plan.name + ".unplayable"))

    @staticmethod
    def forget(spooled: SpooledRecording) -> None:
        """Remove a recording that is safely in the store."""
        for path in (spooled.finished, spooled.video, spooled.journal, spooled.plan):
            path.unlink(missing_ok=True)

    @staticmethod
    def finish(spooled: SpooledRecording) -> FinishedFile:
        """The recording as an ordinary MP4 for upload: the one finished by an earlier
        try if it is still as it was (its upload may be half done), else made now.

        Raises ValueError if the recording holds nothing playable.
        """
        plan = FileJournal(spooled.plan)
        state = plan.load() or {}
        done = state.get("finished")
        try:
            stat = spooled.finished.stat()
        except OSError:
            stat = None
        if (isinstance(done, dict) and stat is not None
                and [done.get("size"), done.get("mtime_ns")] == [stat.st_size,
                                                                 stat.st_mtime_ns]):
            return FinishedFile(spooled.finished, float(done["duration"]), stat.st_size)
        finished = finish_file(spooled.video, spooled.finished)
        stat = spooled.finished.stat()
        plan.save({**state, "finished": {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                                         "duration": finished.duration}})
        return finished


def _recording_elsewhere(pid: int) -> bool:
    """Whether another process that may still be recording runs with this id (POSIX)."""
    if not pid or pid == os.getpid() or os.name != "posix":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def upload(
    catalog: RecordingsCatalog, spooled: SpooledRecording, *, attempts: int = 5,
    delay: float = 2.0,
) -> RecordingInfo:
    """Finish a spooled recording, put it and its metadata in the store, then forget it.

    A storage error is retried ``attempts`` times, waiting longer each time; a key the
    store refuses is not. An upload in parts goes on from the parts the store already
    has (this try's or an earlier run's: see the recording's journal). Raises StoreError
    (the spooled files stay for a later try) or ValueError if the file holds nothing
    (then it is set aside).
    """
    try:
        finished = await asyncio.to_thread(Spool.finish, spooled)
    except ValueError:
        await asyncio.to_thread(Spool.set_aside, spooled)
        raise
    info = RecordingInfo(
        id=spooled.id, name=spooled.name, room_name=spooled.room, room_id=spooled.room_id,
        started_at=spooled.started_at, duration=round(finished.duration, 3),
        size=finished.size, extra={**spooled.extra, **RECORDED_BY})
    key = catalog.recording_key(spooled.name)
    for attempt in range(1, attempts + 1):
        try:
            await catalog.store.write_file(key, finished.path, "video/mp4",
                                           FileJournal(spooled.journal))
            await catalog.save_metadata(info)
            break
        except KeyRefused:
            raise
        except StoreError as err:
            if attempt == attempts:
                raise
            log.warning("upload of %s failed (attempt %d): %s", spooled.name, attempt, err)
            await asyncio.sleep(delay * 2 ** (attempt - 1))
    await Thumbnails(catalog).save(spooled.name, finished.path)  # never raises
    await asyncio.to_thread(Spool.forget, spooled)
    return info
