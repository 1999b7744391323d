"""The recordings in a store, in the OpenVidu advanced tutorial's layout.

The recordings are the ``.mp4`` (``.ogg``, HLS ``.m3u8``) objects directly under
``recordings_path``; each may have a metadata file under
``recordings_path + ".metadata/"``. A listing reads both folders at once, joins them by
name, fetches metadata files concurrently (a bounded number at a time) and keeps them
by ETag, so the next listing fetches only what changed.
With a :class:`RecordingsIndex` the rows and ETags outlive the process: a new catalog
knows the last listing before it asks the store, and its first listing fetches only the
metadata files that changed since.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine
from dataclasses import dataclass, replace
from typing import Any

from recconsole.core.recording_info import (
    HLS_SUFFIX,
    METADATA_DIR,
    THUMBNAILS_DIR,
    MetadataState,
    RecordingInfo,
    RecordingNameError,
    manifest_name,
    media_type,
    metadata_name,
    parse_recording_name,
    segments_folder,
    validate_recording_file,
    validate_recording_name,
    validate_segment_name,
)
from recconsole.storage.base import ObjectInfo, ObjectNotFound, ObjectStore, is_folder
from recconsole.storage.index import IndexedRecording, RecordingsIndex

log = logging.getLogger(__name__)

# Thumbnails live inside the metadata folder, where no recording name can reach and
# where the tutorial reads only ``.json`` files; a thumbnail's name ends in ``.jpg``.
THUMBNAIL_SUFFIX = ".jpg"


@dataclass(frozen=True)
class _Cached:
    """A metadata file as last read: its ETag and the row it gave (None: unreadable)."""

    etag: str
    row: RecordingInfo | None


def _row_from_listing(name: str, obj: ObjectInfo, state: MetadataState) -> RecordingInfo:
    """What the object listing and the file name alone say about a recording."""
    parsed = parse_recording_name(name)
    room_name, room_id, started = parsed if parsed else ("", "", None)
    if started is None:
        started = int(obj.last_modified.timestamp() * 1000)
    return RecordingInfo(
        id="", name=name, room_name=room_name, room_id=room_id, started_at=started,
        duration=0.0, size=obj.size, metadata=state,
    )


def _row_from_metadata(name: str, obj: ObjectInfo, raw: bytes) -> RecordingInfo:
    """The row a metadata file gives, or an UNREADABLE row if it is not valid."""
    try:
        info = RecordingInfo.from_bytes(raw)
    except ValueError as err:
        log.warning("metadata of %s is unreadable: %s", name, err)
        return _row_from_listing(name, obj, MetadataState.UNREADABLE)
    # The row is the file in the bucket, whatever name its metadata carries.
    return info if info.name == name else replace(info, name=name)


class RecordingsCatalog:
    """Lists, reads, writes and deletes recordings and their metadata files."""

    def __init__(
        self, store: ObjectStore, recordings_path: str = "recordings/", concurrency: int = 32,
        index: RecordingsIndex | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be positive, not {concurrency}")
        self.store = store
        # Joined as the tutorial does (plain concatenation), so both find the same keys.
        self.recordings_path = recordings_path
        self.metadata_path = recordings_path + METADATA_DIR
        self.thumbnails_path = recordings_path + THUMBNAILS_DIR
        self.concurrency = concurrency
        self.index = index
        # The store's identity, its bucket or container and the path: one index scope.
        self.scope = f"{store.describe} path {recordings_path}"
        self._cache: dict[str, _Cached] = {}  # metadata file name → last read
        self._indexed: dict[str, IndexedRecording] | None = None  # as the index holds them

    async def known_recordings(self) -> list[RecordingInfo]:
        """The recordings the index knows from the last listing (none without an index),
        without asking the store."""
        return [entry.row for entry in (await self._known()).values()]

    async def _known(self) -> dict[str, IndexedRecording]:
        if self._indexed is None:
            self._indexed = {} if self.index is None else await self.index.load(self.scope)
        return self._indexed

    async def _reconcile(self, listed: dict[str, IndexedRecording]) -> None:
        """Bring the index to what a complete listing found."""
        known = await self._known()
        put = [entry for name, entry in listed.items() if not entry.same_as(known.get(name))]
        gone = known.keys() - listed.keys()
        self._indexed = listed
        if self.index is not None:
            await self.index.apply(self.scope, put, gone)

    async def forget(self, name: str) -> None:
        """A recording was deleted elsewhere (another console told the room)."""
        self._cache.pop(metadata_name(name), None)
        await self._remember(name, None)

    async def _remember(self, name: str, row: RecordingInfo | None) -> None:
        """One recording changed outside a listing (None: it is gone)."""
        known = await self._known()
        if row is None:
            known.pop(name, None)
        else:
            # The metadata file's new ETag is not known: the next listing reads it again.
            known[name] = IndexedRecording(
                row, None if row.metadata is MetadataState.MISSING else "")
        if self.index is not None:
            await self.index.apply(self.scope, [known[name]] if row else [],
                                   [] if row else [name])

    def recording_key(self, name: str) -> str:
        """The key of a recording file; RecordingNameError for a name that is not one."""
        return self.recordings_path + validate_recording_file(name)

    def metadata_key(self, name: str) -> str:
        """The key of a recording's metadata file."""
        return self.metadata_path + metadata_name(validate_recording_file(name))

    def thumbnail_key(self, name: str) -> str:
        """The key of a recording's thumbnail: ``.thumbnails/<name>.jpg`` beside the
        metadata folder (neither folder is read as recordings)."""
        return (self.thumbnails_path + validate_recording_file(name)
                + THUMBNAIL_SUFFIX)

    def segment_key(self, name: str) -> str:
        """The key of an HLS recording's segment; RecordingNameError if it is not one."""
        return self.recordings_path + validate_segment_name(name)

    def manifest_key(self, name: str) -> str:
        """The key of the manifest an egress may have written beside the recording."""
        return self.recordings_path + manifest_name(validate_recording_file(name))

    async def iter_recordings(
        self, room_id: str | None = None
    ) -> AsyncIterator[list[RecordingInfo]]:
        """Every recording (of one room if ``room_id``), in batches as they become known."""
        # The index's ETags spare fetching what did not change.
        listing = _Listing(self, self._cache, await self._known(), room_id)
        async with contextlib.aclosing(listing.run()) as batches:
            async for batch in batches:
                yield batch
        await self._reconcile(listing.listed)

    async def list_recordings(self, room_id: str | None = None) -> list[RecordingInfo]:
        """Every recording (of one room if ``room_id``), newest first."""
        rows = [row async for batch in self.iter_recordings(room_id) for row in batch]
        rows.sort(key=lambda r: (r.started_at, r.name), reverse=True)
        return rows

    async def get(self, name: str) -> RecordingInfo:
        """One recording; ObjectNotFound if its file is not in the store."""
        key, meta_key = self.recording_key(name), self.metadata_key(name)
        try:
            obj = await self.store.head(key)
        except ObjectNotFound:
            await self._remember(name, None)
            raise
        try:
            raw = await self.store.read_bytes(meta_key)
        except ObjectNotFound:
            row = _row_from_listing(name, obj, MetadataState.MISSING)
        else:
            row = _row_from_metadata(name, obj, raw)
        await self._remember(name, row)
        return row

    async def save_metadata(self, info: RecordingInfo) -> None:
        """Write the tutorial's metadata file for ``info`` (same content, same file)."""
        key = self.metadata_key(info.name)
        await self.store.write_bytes(key, info.to_bytes(), "application/json")
        self._cache.pop(metadata_name(info.name), None)
        if self.index is not None and await self.store.exists(self.recording_key(info.name)):
            await self._remember(info.name, info)

    async def delete(self, name: str) -> None:
        """Remove a recording file, its metadata file, its thumbnail and any egress
        manifest beside it (each may already be gone)."""
        key, meta_key = self.recording_key(name), self.metadata_key(name)
        await self.store.delete(key)
        await self.store.delete(meta_key)
        await self.store.delete(self.thumbnail_key(name))
        await self.store.delete(self.manifest_key(name))
        if name.endswith(HLS_SUFFIX):  # the playlist's segments, in their folder
            folder = self.recordings_path + segments_folder(name)
            async for page in self.store.list_pages(folder, recursive=True):
                for obj in page:
                    await self.store.delete(obj.key)
        self._cache.pop(metadata_name(name), None)
        await self._remember(name, None)

    async def playback_url(self, name: str, expires_in: int = 3600) -> str:
        """A URL a player can open for the recording (presigned for S3)."""
        return await self.store.playback_url(self.recording_key(name), expires_in)


class _Listing:
    """One listing run: two folder listings joined by name, metadata fetched by workers.

    Rows are collected in ``_ready`` and handed out in batches whenever the consumer
    gets to run, so the first rows show while later pages are still coming.
    """

    def __init__(
        self, catalog: RecordingsCatalog, cache: dict[str, _Cached],
        indexed: dict[str, IndexedRecording], room_id: str | None,
    ) -> None:
        self._catalog = catalog
        self._store = catalog.store
        self._cache = cache
        self._indexed = indexed
        self._room_id = room_id
        self._metas: dict[str, ObjectInfo] = {}  # metadata file name → object
        self._waiting: dict[str, tuple[str, ObjectInfo]] = {}  # until all metadata is listed
        self._metas_listed = False
        self._jobs: asyncio.Queue[tuple[str, ObjectInfo, str, ObjectInfo]] = asyncio.Queue()
        self._unfinished = 0  # listings still running + fetches queued or running
        self._ready: list[RecordingInfo] = []
        self._rows: dict[str, RecordingInfo] = {}  # every row so far, of any room
        self._wake = asyncio.Event()
        self._error: BaseException | None = None

    async def run(self) -> AsyncGenerator[list[RecordingInfo], None]:
        self._unfinished = 2
        tasks = [
            asyncio.create_task(self._guard(self._list_recordings())),
            asyncio.create_task(self._guard(self._list_metadata())),
            *(asyncio.create_task(self._guard(self._fetch_metadata()))
              for _ in range(self._catalog.concurrency)),
        ]
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                if self._error is not None:
                    raise self._error
                finished = self._unfinished == 0  # before taking the batch: nothing is left out
                batch, self._ready = self._ready, []
                if batch:
                    yield batch
                if finished:
                    break
            for gone in self._cache.keys() - self._metas.keys():
                del self._cache[gone]  # keep the cache as small as the bucket
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _guard(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 -- handed to the consumer, raised there
            self._error = err
            self._wake.set()

    @property
    def listed(self) -> dict[str, IndexedRecording]:
        """Every recording found, with the metadata file version its row came from."""
        entries: dict[str, IndexedRecording] = {}
        for name, row in self._rows.items():
            meta = (None if row.metadata is MetadataState.MISSING
                    else self._metas.get(metadata_name(name)))
            entries[name] = (IndexedRecording(row) if meta is None else IndexedRecording(
                row, meta.etag, meta.last_modified.timestamp()))
        return entries

    def _emit(self, rows: list[RecordingInfo]) -> None:
        for row in rows:
            self._rows[row.name] = row
        if self._room_id is not None:
            rows = [r for r in rows if r.room_id == self._room_id]
        self._ready.extend(rows)
        self._wake.set()

    def _done(self) -> None:
        self._unfinished -= 1
        if self._unfinished == 0:
            self._wake.set()

    async def _list_recordings(self) -> None:
        """The recordings folder, then each of its subfolders (a room called ``a/b``
        records into ``a/``), but never the metadata or thumbnails folder."""
        path = self._catalog.recordings_path
        folders: list[str] = []
        async for page in self._store.list_pages(path, recursive=False, folders=True):
            folders += [o.key for o in page if is_folder(o)
                        and o.key not in (self._catalog.metadata_path,
                                          self._catalog.thumbnails_path)]
            self._take_recordings([o for o in page if not is_folder(o)])
        for folder in folders:
            async for page in self._store.list_pages(folder, recursive=True):
                self._take_recordings(page)
        self._done()

    def _take_recordings(self, page: list[ObjectInfo]) -> None:
        path = self._catalog.recordings_path
        rows: list[RecordingInfo] = []
        for obj in page:
            name = obj.key[len(path):]
            if media_type(name) is None:
                continue  # a manifest or anything else that is not a recording
            try:
                validate_recording_name(name)
            except RecordingNameError:
                continue  # a key no name can reach (an empty or ".." part)
            meta_name = metadata_name(name)
            meta = self._metas.get(meta_name)
            if meta is not None:
                self._join(name, obj, meta_name, meta, rows)
            elif self._metas_listed:
                rows.append(_row_from_listing(name, obj, MetadataState.MISSING))
            else:
                self._waiting[meta_name] = (name, obj)
        self._emit(rows)

    async def _list_metadata(self) -> None:
        path = self._catalog.metadata_path
        # Recursive: MinIO lists faster without a delimiter. Nested keys (OpenVidu Meet
        # keeps .metadata/{roomId}/...) never match a recording's metadata name.
        async for page in self._store.list_pages(path, recursive=True):
            rows: list[RecordingInfo] = []
            for meta in page:
                meta_name = meta.key[len(path):]
                self._metas[meta_name] = meta
                waiting = self._waiting.pop(meta_name, None)
                if waiting is not None:
                    self._join(*waiting, meta_name, meta, rows)
            self._emit(rows)
        self._metas_listed = True
        rows = [_row_from_listing(name, obj, MetadataState.MISSING)
                for name, obj in self._waiting.values()]
        self._waiting.clear()
        self._emit(rows)
        self._done()

    def _join(
        self, name: str, obj: ObjectInfo, meta_name: str, meta: ObjectInfo,
        rows: list[RecordingInfo],
    ) -> None:
        """A recording file meets its metadata file: a row from the cache, or a fetch."""
        cached = self._cache.get(meta_name)
        if cached is None and (entry := self._indexed.get(name)) is not None and entry.meta_etag:
            ok = entry.row.metadata is MetadataState.OK
            cached = _Cached(entry.meta_etag, entry.row if ok else None)
        if cached is None or cached.etag != meta.etag:
            self._unfinished += 1
            self._jobs.put_nowait((name, obj, meta_name, meta))
        elif cached.row is None:
            rows.append(_row_from_listing(name, obj, MetadataState.UNREADABLE))
        else:
            rows.append(cached.row)

    async def _fetch_metadata(self) -> None:
        while True:
            name, obj, meta_name, meta = await self._jobs.get()
            try:
                raw = await self._store.read_bytes(meta.key)
            except ObjectNotFound:  # deleted since it was listed
                self._emit([_row_from_listing(name, obj, MetadataState.MISSING)])
            else:
                row = _row_from_metadata(name, obj, raw)
                ok = row.metadata is MetadataState.OK
                self._cache[meta_name] = _Cached(meta.etag, row if ok else None)
                self._emit([row])
            self._done()
