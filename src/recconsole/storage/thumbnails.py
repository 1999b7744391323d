"""Recording thumbnails: one small JPEG per video recording, a poster for tables and players.

A thumbnail is one frame of the recording (about 10% in, between 1 s and 10 s), scaled
to :data:`THUMBNAIL_WIDTH` pixels wide. It is grabbed with PyAV from the stored file
itself (its presigned or SAS URL, or the local file), so recordings made by egress, by
this console or by anyone else get the same kind of picture.

The console stores the thumbnails of the recordings it saves beside their metadata
folder, at :meth:`RecordingsCatalog.thumbnail_key` (``RECORDINGS_PATH/.thumbnails/
<name>.jpg``): no recording name can reach that folder, a listing never reads it, and
the tutorials list only ``.json`` files in ``.metadata/`` or ``.mp4`` files, so a
thumbnail never shows as a recording and costs a listing nothing. Deleting a recording
deletes its thumbnail.

Recordings without one (made by others, or before thumbnails) get one made lazily by
:class:`ThumbnailCache` and kept on this computer only, in the user's cache folder.
Audio-only recordings have no picture and get none.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from fractions import Fraction
from pathlib import Path
from typing import Final
from urllib.parse import unquote, urlparse

import av
import av.error

from recconsole.core.recording_info import HLS_SUFFIX, RecordingInfo, RecordingNameError
from recconsole.storage.base import StoreError
from recconsole.storage.catalog import RecordingsCatalog

log = logging.getLogger(__name__)

THUMBNAIL_WIDTH: Final = 320
READ_TIMEOUT: Final = 10.0  # seconds a read of the recording may wait for data
MAX_FRAMES: Final = 600  # frames decoded at most after the seek, looking for the moment
LINK_SECONDS: Final = 600  # how long the link a thumbnail is grabbed through lives
RETRY_AFTER: Final = 300.0  # seconds before a recording whose thumbnail failed is tried again
KEPT_FILES: Final = 20_000  # thumbnails kept on this computer (about 100 MB); oldest go first
JPEG: Final = "image/jpeg"
MAX_STORED: Final = 1024 * 1024  # a stored thumbnail larger than this is not one
DARK_LUMA: Final = 40  # brightness (of 255) no pixel of a black picture reaches


class NoPicture(Exception):
    """The recording has no picture to take: no video (audio only), or an HLS playlist
    whose segments no single signed link reaches. It never gets a thumbnail."""


class ThumbnailError(Exception):
    """No thumbnail could be made from the recording (unreadable, unreachable, empty)."""


def user_cache_dir() -> Path:
    """Where the console keeps what it can make again (the platform's cache folder)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "recconsole"


def audio_only(info: RecordingInfo) -> bool:
    """Whether the recording is known to hold sound only, without opening it."""
    options = info.extra.get("options")
    content = options.get("content") if isinstance(options, dict) else None
    return info.name.endswith(".ogg") or content == "audio"


def _moment(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    """Seconds into the recording to take the picture at: past a first black second."""
    if stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        seconds = container.duration / av.time_base
    else:
        return 1.0
    return min(max(1.0, seconds * 0.1), 10.0, seconds / 2)


def _is_dark(frame: av.VideoFrame) -> bool:
    """Whether the picture is black: no pixel of a spread sample is brighter than
    DARK_LUMA (a dim scene still has brighter spots; a black frame has none)."""
    sample = memoryview(frame.planes[0])[::97]  # the stride shifts the columns by row
    return max(sample, default=0) < DARK_LUMA


def _jpeg(frame: av.VideoFrame, width: int) -> bytes:
    width = min(width, frame.width) // 2 * 2 or 2
    height = max(2, round(frame.height * width / frame.width / 2) * 2)
    small = frame.reformat(width=width, height=height, format="yuvj420p")
    small.pts = 0
    codec = av.CodecContext.create("mjpeg", "w")
    assert isinstance(codec, av.VideoCodecContext)
    codec.width, codec.height, codec.pix_fmt = width, height, "yuvj420p"
    codec.time_base = Fraction(1, 25)
    codec.bit_rate = 2_000_000  # a sharp picture; it is one frame of a few KB
    packets = [*codec.encode(small), *codec.encode(None)]
    data = b"".join(bytes(packet) for packet in packets)
    if not data:
        raise ThumbnailError("the picture could not be encoded")
    return data


def grab_thumbnail(source: str, width: int = THUMBNAIL_WIDTH,
                   timeout: float = READ_TIMEOUT) -> bytes:
    """A JPEG of one frame of the recording at ``source`` (a path or URL), ``width`` wide.

    Blocking (run it in a thread). Raises NoPicture for a recording without video and
    ThumbnailError when none can be made; no read waits longer than ``timeout``.
    """
    try:
        container = av.open(source, timeout=(timeout, timeout))
    except (av.error.FFmpegError, OSError) as err:
        raise ThumbnailError(f"cannot open the recording: {type(err).__name__}") from None
    with container:
        if not container.streams.video:
            raise NoPicture("the recording has no video")
        stream = container.streams.video[0]
        chosen: av.VideoFrame | None = None
        try:
            at = _moment(container, stream)
            if at > 0 and stream.time_base is not None:
                container.seek(int(at / stream.time_base), stream=stream)
            # The frame at the moment; if it is black (an egress that took long to show
            # the room records black first), the first later one that is not.
            dark: av.VideoFrame | None = None
            for count, frame in enumerate(container.decode(stream)):
                if count >= MAX_FRAMES:
                    break
                if frame.time is not None and frame.time < at:
                    chosen = frame
                    continue
                if not _is_dark(frame):
                    chosen = frame
                    break
                dark = dark or frame
                chosen = dark
        except (av.error.FFmpegError, OSError) as err:
            if chosen is None:
                raise ThumbnailError(f"cannot read the recording: {type(err).__name__}") from None
        if chosen is None:
            raise ThumbnailError("the recording has no picture to show")
        try:
            return _jpeg(chosen, width)
        except av.error.FFmpegError as err:
            raise ThumbnailError(f"cannot encode the picture: {err}") from None


def fetch_stored(source: str, timeout: float = READ_TIMEOUT) -> bytes | None:
    """The bytes at ``source`` (a path, or a signed link), None if there are none.

    Blocking (run it in a thread); a link that cannot be reached is a ThumbnailError.
    """
    if "://" not in source:
        try:
            return Path(source).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise ThumbnailError(f"cannot read {Path(source).name}: {err}") from None
    try:
        with urllib.request.urlopen(source, timeout=timeout) as answer:
            data: bytes = answer.read(MAX_STORED + 1)
    except urllib.error.HTTPError:  # not there, or not for us to read: make one instead
        return None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise ThumbnailError(f"the store cannot be reached: {reason}") from None
    return data if len(data) <= MAX_STORED else None  # not a thumbnail of ours


def _local_path(url: str) -> str:
    """A ``file://`` URL as the path FFmpeg opens (it does not decode %-escapes)."""
    if url.startswith("file://"):
        return unquote(urlparse(url).path)
    return url


class Thumbnails:
    """Makes thumbnails of a catalog's recordings and keeps them in its store.

    Grabbing runs in threads, at most ``concurrency`` at a time.
    """

    def __init__(self, catalog: RecordingsCatalog, *, width: int = THUMBNAIL_WIDTH,
                 timeout: float = READ_TIMEOUT, concurrency: int = 2) -> None:
        self.catalog = catalog
        self.width, self.timeout = width, timeout
        self._limit = asyncio.Semaphore(concurrency)

    async def source(self, name: str) -> str:
        """What PyAV opens to read the recording: its link, or its file in a local store."""
        source = _local_path(await self.catalog.playback_url(name, LINK_SECONDS))
        if name.endswith(HLS_SUFFIX) and "://" in source:
            raise NoPicture("its HLS segments are not readable through the playlist's link")
        return source

    async def grab(self, source: str | Path) -> bytes:
        """A thumbnail of the recording at ``source``; NoPicture or ThumbnailError."""
        async with self._limit:
            return await asyncio.to_thread(grab_thumbnail, str(source), self.width,
                                           self.timeout)

    async def read(self, name: str) -> bytes | None:
        """The stored thumbnail of a recording; None if it has none.

        Read through its link in a thread, as a grab is: nothing of the store's own
        connections is used, so a read still running when the store closes opens none.
        """
        url = await self.catalog.store.playback_url(self.catalog.thumbnail_key(name),
                                                    LINK_SECONDS)
        return await asyncio.to_thread(fetch_stored, _local_path(url), self.timeout)

    async def save(self, name: str, source: str | Path | None = None) -> bool:
        """Store a thumbnail for a recording that has none, grabbed from ``source`` (the
        stored file when None). Whether one is stored now.

        Never raises for the recording or the store: a recording without a thumbnail
        is still a recording, and a table makes one lazily later.
        """
        try:
            key = self.catalog.thumbnail_key(name)
            if await self.catalog.store.exists(key):
                return True
            # Each read has its timeout; this bounds a source that trickles.
            async with asyncio.timeout(self.timeout * 3):
                data = await self.grab(source if source is not None
                                       else await self.source(name))
            await self.catalog.store.write_bytes(key, data, JPEG)
        except NoPicture as err:
            log.info("no thumbnail for %s: %s", name, err)
            return False
        except (ThumbnailError, StoreError, RecordingNameError, TimeoutError) as err:
            log.warning("no thumbnail for %s: %s", name, err or "it took too long")
            return False
        log.info("thumbnail of %s stored", name)
        return True


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    partial.write_bytes(data)
    partial.replace(path)


class ThumbnailCache:
    """Thumbnails for a table, never waited for: the stored one, else one grabbed from the
    recording; both kept on this computer in ``folder``.

    Entries are keyed by the store, the recordings path, the recording's name and its
    size, so a replaced recording gets a new one. A recording without video is noted
    (``.none``) and never opened again; one whose thumbnail failed is tried again after
    ``retry_after`` seconds, and only the first failure of a run is logged as a warning.
    The folder keeps at most ``kept_files`` entries: the least recently made go first,
    once per run, before the first thumbnail is fetched.
    """

    def __init__(self, thumbnails: Thumbnails, folder: Path | None = None, *,
                 retry_after: float = RETRY_AFTER, concurrency: int = 4,
                 kept_files: int = KEPT_FILES) -> None:
        self.thumbnails = thumbnails
        self._limit = asyncio.Semaphore(concurrency)
        self.folder = folder or user_cache_dir() / "thumbnails"
        self.retry_after = retry_after
        self._failed: dict[str, float] = {}  # cache entry -> when it failed
        self._pending: dict[str, asyncio.Task[bytes | None]] = {}
        self._warned = False
        self.kept_files = kept_files
        self._pruned = False

    @property
    def busy(self) -> bool:
        """Whether a thumbnail is being fetched or made."""
        return bool(self._pending)

    def _entry(self, info: RecordingInfo) -> str:
        scope = self.thumbnails.catalog.scope
        return hashlib.sha256(f"{scope}\0{info.name}\0{info.size}".encode(
            "utf-8", "surrogatepass")).hexdigest()[:40]

    def cached(self, info: RecordingInfo) -> Path:
        """Where the thumbnail of ``info`` is (or will be) kept on this computer."""
        return self.folder / f"{self._entry(info)}.jpg"

    async def get(self, info: RecordingInfo) -> bytes | None:
        """The thumbnail of ``info``; None if it has no picture or none could be made."""
        if audio_only(info):
            return None
        entry = self._entry(info)
        failed = self._failed.get(entry)
        if failed is not None and time.monotonic() - failed < self.retry_after:
            return None
        task = self._pending.get(entry)
        if task is None:
            task = asyncio.ensure_future(self._get(info, entry))
            self._pending[entry] = task
            task.add_done_callback(lambda _t: self._pending.pop(entry, None))
        return await task  # cancelled with its caller: a table hidden stops its work

    async def _get(self, info: RecordingInfo, entry: str) -> bytes | None:
        if not self._pruned:
            self._pruned = True
            await asyncio.to_thread(_prune, self.folder, self.kept_files)
        path = self.folder / f"{entry}.jpg"
        marker = self.folder / f"{entry}.none"
        found = await asyncio.to_thread(_read_cached, path, marker)
        if found is not None:
            return found or None
        try:
            async with self._limit, asyncio.timeout(self.thumbnails.timeout * 3):
                data = await self._fetch(info.name)
        except NoPicture:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(_write_atomically, marker, b"")
            return None
        except (ThumbnailError, StoreError, RecordingNameError, ValueError,
                TimeoutError) as err:
            self._failed[entry] = time.monotonic()
            level = logging.DEBUG if self._warned else logging.WARNING
            self._warned = True
            log.log(level, "no thumbnail for %s: %s", info.name, err or "it took too long")
            return None
        self._failed.pop(entry, None)
        with contextlib.suppress(OSError):  # a full disk only costs making it again
            await asyncio.to_thread(_write_atomically, path, data)
        return data

    async def _fetch(self, name: str) -> bytes:
        """The stored thumbnail, else one grabbed from the recording."""
        data = await self.thumbnails.read(name)
        if data is None:
            data = await self.thumbnails.grab(await self.thumbnails.source(name))
        return data

    async def forget(self, info: RecordingInfo) -> None:
        """Drop what this computer keeps for a deleted recording."""
        entry = self._entry(info)
        self._failed.pop(entry, None)
        for suffix in (".jpg", ".none"):
            await asyncio.to_thread((self.folder / f"{entry}{suffix}").unlink, missing_ok=True)


def _prune(folder: Path, kept: int) -> None:
    """Remove the oldest entries of ``folder`` beyond ``kept``."""
    try:
        entries = [(p.stat().st_mtime, p) for p in folder.iterdir() if p.is_file()]
    except OSError:
        return  # no folder yet
    entries.sort()
    for _, path in entries[:max(0, len(entries) - kept)]:
        path.unlink(missing_ok=True)


def _read_cached(path: Path, marker: Path) -> bytes | None:
    """The cached thumbnail; b"" if the recording is known to have no picture; None if
    nothing is known."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b"" if marker.exists() else None
