"""What a moderator does to finished recordings: delete them (telling the room) and
rebuild a missing metadata file from the egress that made the recording."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final

from livekit import api

from recconsole.core.errors import ConsoleError, EgressUnavailable, RecordingInProgress
from recconsole.core.livekit_server import LiveKitServer
from recconsole.core.recording_info import RecordingInfo, parse_recording_name
from recconsole.core.recording_status import egress_is_active
from recconsole.storage.base import (
    ObjectChanged,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    StoreError,
)
from recconsole.storage.catalog import RecordingsCatalog

log = logging.getLogger(__name__)


def _file_names(egress: api.EgressInfo) -> set[str]:
    """The recordings ``egress`` writes or wrote: its files and HLS playlists, from its
    results and from its request (an HLS egress uploads its playlist while it records,
    and its results may not name it yet)."""
    paths = [result.filename for result in egress.file_results]
    paths += [result.playlist_name for result in egress.segment_results]
    for kind in ("room_composite", "participant", "track_composite", "web"):
        if egress.WhichOneof("request") == kind:
            request = getattr(egress, kind)
            paths += [output.filepath for output in request.file_outputs]
            paths += [output.playlist_name for output in request.segment_outputs]
    return {path.rsplit("/", 1)[-1] for path in paths if path}


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

    A ``.part`` is resumed only onto the very version of the recording it holds the start
    of (same ETag and size, noted beside it in ``target.part.json``), and every read is
    conditional on that ETag; otherwise the download starts over from byte 0. A recording
    replaced during the download is started over once; ObjectChanged if it changes again.
    ``progress(bytes so far, size)`` is called as chunks arrive; ``cancelled()`` is asked
    between chunks. The file gets its final name only once complete.
    """
    key = catalog.recording_key(name)
    partial = target.with_name(target.name + ".part")
    info = await catalog.store.head(key)
    try:
        await _fetch(catalog.store, info, partial, name, progress, cancelled, fresh=False)
    except ObjectChanged:
        # Replaced between the HEAD and the read, or during the read: get the new version.
        info = await catalog.store.head(key)
        try:
            await _fetch(catalog.store, info, partial, name, progress, cancelled, fresh=True)
        except ObjectChanged as err:
            raise ObjectChanged(f"{name} kept changing while it was being downloaded; "
                                "try again once it no longer changes.") from err
    await asyncio.to_thread(_complete, partial, target)
    return target


async def _fetch(
    store: ObjectStore,
    info: ObjectInfo,
    partial: Path,
    name: str,
    progress: Callable[[int, int], None],
    cancelled: Callable[[], bool],
    *,
    fresh: bool,
) -> None:
    """Fill ``partial`` with the version of the object ``info`` describes.

    Continues from what ``partial`` already holds of that version unless ``fresh``.
    """
    done = await asyncio.to_thread(_bytes_to_keep, partial, info, fresh)
    size = info.size
    progress(done, size)
    if done < size:
        with partial.open("ab") as out:
            async for chunk in store.read(info.key, start=done, if_match=info.etag or None):
                await asyncio.to_thread(out.write, chunk)
                done += len(chunk)
                progress(done, size)
                if cancelled():
                    raise DownloadCancelled(
                        f"Download of {name} stopped at {done} of {size} bytes.")
    if done != size:
        raise StoreError(f"Download of {name} ended at {done} of {size} bytes; "
                         "download it again to resume.")


# What the sidecar of a ``.part`` says: which object version the ``.part`` is the start of.
_PART_FORMAT: Final = "recconsole download part 1"


def _sidecar(partial: Path) -> Path:
    return partial.with_name(partial.name + ".json")


def _version(info: ObjectInfo) -> dict[str, object]:
    return {"format": _PART_FORMAT, "key": info.key, "etag": info.etag, "size": info.size}


def _remembered(sidecar: Path) -> object:
    """What the sidecar says, or None when it is missing or unreadable."""
    try:
        return json.loads(sidecar.read_bytes())
    except (OSError, ValueError):
        return None


def _bytes_to_keep(partial: Path, info: ObjectInfo, fresh: bool) -> int:
    """How much of ``partial`` is the start of ``info``'s version; it is emptied if none.

    Only a sidecar naming this very version vouches for the bytes of a ``.part``.
    """
    try:
        done: int | None = partial.stat().st_size
    except FileNotFoundError:
        done = None
    sidecar = _sidecar(partial)
    same = bool(info.etag) and _remembered(sidecar) == _version(info)
    if done is not None and done <= info.size and same and not fresh:
        return done
    # The old sidecar goes first, so it never vouches for another version's bytes; the
    # new one is written whole or fails to parse, so a torn write vouches for nothing.
    sidecar.unlink(missing_ok=True)
    partial.write_bytes(b"")
    sidecar.write_text(json.dumps(_version(info)), encoding="utf-8")
    return 0


def _complete(partial: Path, target: Path) -> None:
    partial.replace(target)
    _sidecar(partial).unlink(missing_ok=True)  # after: a crash between leaves only a note
