"""What a moderator does to finished recordings: delete them (telling the room) and
rebuild a missing metadata file from the egress that made the recording."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from livekit import api

from recconsole.core.errors import ConsoleError, EgressUnavailable, RecordingInProgress
from recconsole.core.livekit_server import LiveKitServer
from recconsole.core.recording_info import RecordingInfo, parse_recording_name
from recconsole.core.recording_status import egress_is_active
from recconsole.storage.base import ObjectNotFound, StoreError
from recconsole.storage.catalog import RecordingsCatalog

log = logging.getLogger(__name__)


def _file_names(egress: api.EgressInfo) -> set[str]:
    return {result.filename.rsplit("/", 1)[-1] for result in egress.file_results}


class RecordingsService:
    """Deletes recordings and rebuilds their metadata, keeping the room informed."""

    def __init__(self, catalog: RecordingsCatalog, server: LiveKitServer) -> None:
        self.catalog = catalog
        self.server = server

    async def _room_of(self, name: str) -> str:
        try:
            return (await self.catalog.get(name)).room_name
        except ObjectNotFound:
            raise
        except StoreError:  # metadata unreadable: the name still tells the room
            parsed = parse_recording_name(name)
            return parsed[0] if parsed else ""

    async def delete(self, name: str) -> bool:
        """Delete file and metadata, then send RECORDING_DELETED to the room.

        Returns whether the room was told (False when it no longer exists).
        Raises RecordingInProgress for a recording still being made.
        """
        try:
            room = await self._room_of(name)
        except ObjectNotFound:
            # The file is gone already; a metadata file left behind still goes.
            if not await self.catalog.store.exists(self.catalog.metadata_key(name)):
                raise
            parsed = parse_recording_name(name)
            room = parsed[0] if parsed else ""
        if room:
            active = await self._active_egresses(room)
            if any(name in _file_names(e) for e in active):
                raise RecordingInProgress(
                    f"{name} is still being recorded; stop the recording before deleting it."
                )
        await self.catalog.delete(name)
        log.info("deleted recording %s", name)
        if not room:
            return False
        try:
            return await self.server.send_recording_deleted(room, name)
        except ConsoleError as err:  # the file is gone either way; say why the room wasn't told
            log.warning("could not tell room %s about the deletion: %s", room, err)
            return False

    async def delete_many(self, names: Iterable[str]) -> dict[str, Exception | None]:
        """Delete several recordings; each name maps to None or the error it met."""
        names = list(names)
        outcomes = await asyncio.gather(*(self.delete(n) for n in names), return_exceptions=True)
        results: dict[str, Exception | None] = {}
        for name, outcome in zip(names, outcomes, strict=True):
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome
            results[name] = outcome if isinstance(outcome, Exception) else None
        return results

    async def rebuild_metadata(self, name: str) -> RecordingInfo:
        """Write a missing metadata file from the egress record that made ``name``."""
        room = await self._room_of(name)
        for egress in await self.server.list_egress(room, active=False):
            if name in _file_names(egress) and not egress_is_active(egress):
                info = RecordingInfo.from_egress(egress)
                await self.catalog.save_metadata(info)
                return info
        raise ConsoleError(f"No finished egress of room {room!r} made {name}.")

    async def _active_egresses(self, room: str) -> list[api.EgressInfo]:
        try:
            return await self.server.list_egress(room, active=True)
        except EgressUnavailable:
            return []  # nothing can be recording without an egress service


class DownloadCancelled(ConsoleError):
    """The user stopped a download; what arrived so far is kept to resume from."""


async def download(
    catalog: RecordingsCatalog,
    name: str,
    target: Path,
    progress: Callable[[int, int], None] = lambda done, total: None,
    cancelled: Callable[[], bool] = lambda: False,
) -> Path:
    """Save a recording to ``target``, resuming a ``target.part`` left by an earlier try.

    ``progress(bytes so far, size)`` is called as chunks arrive; ``cancelled()`` is asked
    between chunks. The file gets its final name only once complete.
    """
    key = catalog.recording_key(name)
    size = (await catalog.store.head(key)).size
    partial = target.with_name(target.name + ".part")
    done = partial.stat().st_size if partial.exists() else 0
    if done > size:  # not a prefix of this recording: start over
        partial.unlink()
        done = 0
    progress(done, size)
    if done < size:
        with partial.open("ab") as out:
            async for chunk in catalog.store.read(key, start=done):
                await asyncio.to_thread(out.write, chunk)
                done += len(chunk)
                progress(done, size)
                if cancelled():
                    raise DownloadCancelled(
                        f"Download of {name} stopped at {done} of {size} bytes.")
    else:
        partial.touch()
    partial.replace(target)
    return target
