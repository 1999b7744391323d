"""Recording thumbnails on real stores: made when a recording is saved (egress_ended on
the real listener with MinIO, a local recording's upload to a local folder), kept where
the tutorial's listings never see them, deleted with the recording, and made lazily for
recordings that have none, without an error storm for files that cannot be read.

The egress_ended webhook is signed and posted by the test (a real egress run is in
tests/e2e); the recording file is a real MP4 made with PyAV, a moving white bar.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np
import pytest
import pytest_asyncio
from livekit import api

from recconsole.core.events import RecordingSaved
from recconsole.core.livekit_server import LiveKitServer
from recconsole.core.recording_info import RecordingInfo
from recconsole.realtime.spool import Spool, upload
from recconsole.server.listener import WebhookListener
from recconsole.settings import Settings
from recconsole.storage.base import ObjectInfo, ObjectStore
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.local import LocalStore
from recconsole.storage.s3 import S3Store
from recconsole.storage.thumbnails import ThumbnailCache, Thumbnails, grab_thumbnail
from recconsole_devtools.devstack import (
    API_KEY,
    API_SECRET,
    MINIO_PASSWORD,
    MINIO_USER,
    S3_BUCKET,
    StackConfig,
)
from recconsole_devtools.media import make_mp4
from tests.helpers.rooms import unique_room
from tests.helpers.webhooks import egress_event, post, sign

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def bar_position(jpeg: bytes) -> tuple[int, int, int]:
    """Width and height of a JPEG, and the column where its white bar is brightest."""
    with av.open(io.BytesIO(jpeg)) as picture:
        frame = next(picture.decode(video=0))
    luma = frame.reformat(format="gray").to_ndarray()
    return frame.width, frame.height, int(np.argmax(luma.mean(axis=0)))


async def keys_under(store: ObjectStore, prefix: str) -> list[str]:
    return [o.key async for page in store.list_pages(prefix) for o in page]


async def tutorial_listings(store: ObjectStore, path: str) -> tuple[list[str], list[str]]:
    """What the tutorials list: the basic one every ``.mp4`` under RECORDINGS_PATH, the
    advanced one every ``.json`` under RECORDINGS_PATH/.metadata/ (their regexes)."""
    everything = await keys_under(store, path)
    basic = [k for k in everything if re.search(r"\.mp4$", k)]
    metadata = re.compile(f"^{re.escape(path)}\\.metadata/.*\\.json$")
    advanced = [k for k in await keys_under(store, path + ".metadata/") if metadata.match(k)]
    return basic, advanced


@pytest_asyncio.fixture
async def minio_catalog(minio_server: StackConfig) -> AsyncIterator[RecordingsCatalog]:
    store = S3Store(minio_server.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1", S3_BUCKET)
    yield RecordingsCatalog(store, f"thumbs-{uuid.uuid4().hex[:8]}/")
    await store.aclose()


async def put_recording(catalog: RecordingsCatalog, tmp_path: Path, name: str,
                        seconds: float = 4.0) -> Path:
    """A real MP4 (a white bar moving 4 px a frame at 25 fps over 640 px) in the store."""
    path = make_mp4(tmp_path / f"{uuid.uuid4().hex}.mp4", seconds, (640, 360))
    await catalog.store.write_file(catalog.recording_key(name), path, "video/mp4")
    return path


# --- made when a recording is saved ------------------------------------------------------


@pytest.fixture
def settings(livekit_server: StackConfig, minio_server: StackConfig,
             unused_tcp_port: int) -> Settings:
    return Settings.from_env({**livekit_server.env(), "S3_ENDPOINT": minio_server.s3_endpoint,
                              "APP_NAME": f"recconsole-thumbs-{uuid.uuid4().hex[:6]}",
                              "SERVER_PORT": str(unused_tcp_port),
                              "RECORDINGS_PATH": f"thumbs-{uuid.uuid4().hex[:8]}/",
                              "REDIS_URL": ""})


@pytest_asyncio.fixture
async def listener(settings: Settings, tmp_path: Path) -> AsyncIterator[WebhookListener]:
    service = WebhookListener(settings, data_dir=tmp_path / "listener", reconcile_every=None)
    await service.start()
    yield service
    await service.stop()


async def test_an_egress_recording_gets_a_thumbnail_the_tutorial_never_lists(
    listener: WebhookListener, settings: Settings, tmp_path: Path
) -> None:
    room = unique_room("thumb")
    async with LiveKitServer(settings.livekit_url, API_KEY, API_SECRET,
                             app_name=settings.app_name) as server:
        await server.ensure_room(room)
    catalog = listener.catalog
    name = f"{room}-RM_test-2026-12-03T101010.mp4"
    await put_recording(catalog, tmp_path, name)
    saved: asyncio.Queue[RecordingSaved] = asyncio.Queue()
    listener.events.subscribe(RecordingSaved, saved.put_nowait)
    body = egress_event("egress_ended", room, "EG_thumb", api.EgressStatus.EGRESS_COMPLETE,
                        file_name=name, prefix=catalog.recordings_path)
    status, text = await post(listener.url, body, sign(body))
    assert status == 200, text
    assert await asyncio.wait_for(saved.get(), 30) == RecordingSaved(name, room)

    # Told only once the thumbnail is stored: a table shows it at once.
    key = catalog.thumbnail_key(name)
    assert key == f"{catalog.recordings_path}.thumbnails/{name}.jpg"
    width, height, bar = bar_position(await catalog.store.read_bytes(key))
    assert (width, height) == (320, 180)
    # Taken 1 s in (10% of 4 s is less): the bar is 100 px in, 50 px at half size.
    assert 45 <= bar <= 65
    assert (await catalog.store.head(key)).size < 30_000

    basic, advanced = await tutorial_listings(catalog.store, catalog.recordings_path)
    assert basic == [catalog.recording_key(name)]
    assert advanced == [catalog.metadata_key(name)]
    assert [r.name for r in await catalog.list_recordings()] == [name]

    await catalog.delete(name)
    assert await keys_under(catalog.store, catalog.recordings_path) == []


async def test_a_recording_deleted_by_the_tutorial_leaves_nothing_the_console_lists(
    minio_catalog: RecordingsCatalog, tmp_path: Path
) -> None:
    catalog = minio_catalog
    name = f"{unique_room('tut')}-RM_x-2026-12-03T101010.mp4"
    await put_recording(catalog, tmp_path, name)
    await catalog.save_metadata(RecordingInfo("EG_t", name, "r", "RM_x", 1, 4.0, 1))
    assert await Thumbnails(catalog).save(name)
    # The tutorial's delete: the file and its metadata file, nothing else.
    await catalog.store.delete(catalog.recording_key(name))
    await catalog.store.delete(catalog.metadata_key(name))
    assert await catalog.list_recordings() == []
    assert await keys_under(catalog.store, catalog.recordings_path) == [
        catalog.thumbnail_key(name)]  # left behind, and never shown as a recording


async def test_a_local_recording_gets_its_thumbnail_when_uploaded(tmp_path: Path) -> None:
    catalog = RecordingsCatalog(LocalStore(tmp_path / "store"), "recordings/")
    spool = Spool(tmp_path / "spool")
    spooled = spool.new("réunion #1", "RM_local", datetime(2026, 12, 3, 10, 10, tzinfo=UTC))
    make_mp4(spooled.video, 3.0, (640, 360))
    info = await upload(catalog, spooled)
    width, _, bar = bar_position(await catalog.store.read_bytes(catalog.thumbnail_key(info.name)))
    assert width == 320
    assert 45 <= bar <= 65
    assert [r.name for r in await catalog.list_recordings()] == [info.name]
    await catalog.delete(info.name)
    assert not await catalog.store.exists(catalog.thumbnail_key(info.name))


class _ListingStore(LocalStore):
    """A local folder that notes every prefix a listing reads."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.listed: list[str] = []

    async def list_page(
        self, prefix: str, token: str | None = None, *, recursive: bool = True,
        folders: bool = False,
    ) -> tuple[list[ObjectInfo], str | None]:
        self.listed.append(prefix)
        return await super().list_page(prefix, token, recursive=recursive, folders=folders)


async def test_a_listing_never_reads_the_thumbnails(tmp_path: Path) -> None:
    store = _ListingStore(tmp_path / "store")
    catalog = RecordingsCatalog(store, "recordings/")
    names = [f"réunion #{i}-RM_x-2026-12-03T10101{i}.mp4" for i in range(2)]
    names.append("a/b-RM_x-2026-12-03T101012.mp4")  # a room called "a/b": a subfolder
    for name in names:
        await put_recording(catalog, tmp_path, name)
        await catalog.save_metadata(RecordingInfo("EG_t", name, "r", "RM_x", 1, 4.0, 1))
        assert await Thumbnails(catalog).save(name)
    store.listed.clear()
    assert sorted(r.name for r in await catalog.list_recordings()) == sorted(names)
    assert sorted(set(store.listed)) == ["recordings/", "recordings/.metadata/",
                                         "recordings/a/"]


async def test_a_recording_that_starts_black_gets_its_first_picture_not_black(
    tmp_path: Path,
) -> None:
    """An egress that took long to show the room records black first, past the moment
    a thumbnail is taken at (1 s into a 4 s file): the first picture after it is used."""
    path = tmp_path / "late.mp4"
    fps, black_for = 25, 2.5
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps, options={"preset": "veryfast"})
        video.width, video.height, video.pix_fmt = 640, 360, "yuv420p"
        for i in range(4 * fps):
            image = np.zeros((360, 640, 3), np.uint8)
            if i >= black_for * fps:
                image[:, 300:340] = 255  # a white bar in the middle
            out.mux(video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(video.encode(None))
    width, _, bar = bar_position(grab_thumbnail(str(path)))
    assert width == 320
    assert 145 <= bar <= 175  # the bar, at half size: the picture, not the black


async def test_an_audio_only_recording_gets_no_thumbnail(tmp_path: Path) -> None:
    catalog = RecordingsCatalog(LocalStore(tmp_path / "store"), "recordings/")
    path = tmp_path / "tone.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        samples = np.zeros((1, 48000), np.float32)
        for start in range(0, 48000, 1024):
            frame = av.AudioFrame.from_ndarray(samples[:, start:start + 1024], format="fltp",
                                               layout="mono")
            frame.sample_rate, frame.pts = 48000, start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    name = "room-RM_a-2026-12-03T101010.mp4"
    await catalog.store.write_file(catalog.recording_key(name), path, "video/mp4")
    assert not await Thumbnails(catalog).save(name)
    assert not await catalog.store.exists(catalog.thumbnail_key(name))
    cache = ThumbnailCache(Thumbnails(catalog), tmp_path / "cache")
    info = RecordingInfo("", name, "room", "RM_a", 1, 1.0, path.stat().st_size)
    assert await cache.get(info) is None
    assert cache.cached(info).with_suffix(".none").exists()  # never opened again


# --- made lazily, cached on this computer -------------------------------------------------


async def test_a_recording_without_thumbnail_gets_one_cached_locally(
    minio_catalog: RecordingsCatalog, tmp_path: Path
) -> None:
    catalog = minio_catalog
    name = f"{unique_room('lazy')}-RM_x-2026-12-03T101010.mp4"
    path = await put_recording(catalog, tmp_path, name, seconds=20.0)
    info = RecordingInfo("", name, "r", "RM_x", 1, 20.0, path.stat().st_size)
    cache = ThumbnailCache(Thumbnails(catalog), tmp_path / "cache")
    first, again = await asyncio.gather(cache.get(info), cache.get(info))
    assert first is not None
    assert again == first
    # 10% of 20 s: 2 s in, frame 50, the bar 200 px in, 100 px at half size.
    assert 95 <= bar_position(first)[2] <= 110
    assert cache.cached(info).read_bytes() == first
    assert not await catalog.store.exists(catalog.thumbnail_key(name))  # others' bucket untouched
    await catalog.store.delete(catalog.recording_key(name))
    assert await cache.get(info) == first  # from this computer, not the store
    await cache.forget(info)
    assert not cache.cached(info).exists()


async def test_a_stored_thumbnail_is_used_rather_than_made_again(
    minio_catalog: RecordingsCatalog, tmp_path: Path
) -> None:
    catalog = minio_catalog
    name = f"{unique_room('stored')}-RM_x-2026-12-03T101010.mp4"
    await catalog.store.write_bytes(catalog.recording_key(name), b"not a video", "video/mp4")
    await catalog.store.write_bytes(catalog.thumbnail_key(name), b"\xff\xd8stored", "image/jpeg")
    cache = ThumbnailCache(Thumbnails(catalog), tmp_path / "cache")
    assert await cache.get(RecordingInfo("", name, "r", "RM_x", 1, 1.0, 11)) == b"\xff\xd8stored"


async def test_broken_and_unreachable_recordings_give_no_thumbnail_and_one_warning(
    minio_catalog: RecordingsCatalog, tmp_path: Path, unused_tcp_port: int,
    caplog: pytest.LogCaptureFixture
) -> None:
    catalog = minio_catalog
    names = [f"broken{i}-RM_x-2026-12-03T101010.mp4" for i in range(5)]
    for name in names:
        await catalog.store.write_bytes(catalog.recording_key(name), b"\0" * 4096, "video/mp4")
    cache = ThumbnailCache(Thumbnails(catalog), tmp_path / "cache")
    rows = [RecordingInfo("", n, "r", "RM_x", 1, 1.0, 4096) for n in names]
    caplog.set_level(logging.DEBUG, "recconsole.storage.thumbnails")
    assert await asyncio.gather(*(cache.get(r) for r in rows)) == [None] * 5
    assert await asyncio.gather(*(cache.get(r) for r in rows)) == [None] * 5
    tried = [r for r in caplog.records if "no thumbnail for" in r.getMessage()]
    assert len(tried) == 5  # asked twice, opened once each
    assert [r.levelno for r in tried].count(logging.WARNING) == 1
    assert not any(cache.folder.glob("*.jpg"))

    down = S3Store(f"http://127.0.0.1:{unused_tcp_port}", MINIO_USER, MINIO_PASSWORD,
                   "us-east-1", S3_BUCKET)
    try:
        unreachable = ThumbnailCache(Thumbnails(RecordingsCatalog(down, "x/")), tmp_path / "c2")
        assert await asyncio.wait_for(unreachable.get(rows[0]), 60) is None
        assert not await Thumbnails(RecordingsCatalog(down, "x/")).save(names[0])
    finally:
        await down.aclose()


async def test_an_hls_recording_behind_a_signed_link_gets_none_and_is_not_tried_again(
    minio_catalog: RecordingsCatalog, tmp_path: Path
) -> None:
    """Its segments sit beside the playlist, unsigned: FFmpeg could not read them."""
    catalog = minio_catalog
    name = "room-RM_h-2026-12-03T101010.m3u8"
    await catalog.store.write_bytes(catalog.recording_key(name), b"#EXTM3U\n", "audio/mpegurl")
    assert not await Thumbnails(catalog).save(name)
    assert not await catalog.store.exists(catalog.thumbnail_key(name))
    cache = ThumbnailCache(Thumbnails(catalog), tmp_path / "cache")
    info = RecordingInfo("", name, "room", "RM_h", 1, 1.0, 8)
    assert await cache.get(info) is None
    assert cache.cached(info).with_suffix(".none").exists()


async def test_the_cache_on_this_computer_keeps_only_the_newest_entries(
    minio_catalog: RecordingsCatalog, tmp_path: Path
) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    for i in range(5):
        (folder / f"old{i}.jpg").write_bytes(b"x")
        os.utime(folder / f"old{i}.jpg", (1_000_000 + i, 1_000_000 + i))
    cache = ThumbnailCache(Thumbnails(minio_catalog), folder, kept_files=2)
    name = "kept-RM_k-2026-12-03T101010.mp4"
    await minio_catalog.store.write_bytes(minio_catalog.thumbnail_key(name), b"\xff\xd8k",
                                          "image/jpeg")
    info = RecordingInfo("", name, "r", "RM_k", 1, 1.0, 3)
    assert await cache.get(info) == b"\xff\xd8k"
    kept = sorted(p.name for p in folder.iterdir())
    assert kept == sorted(["old3.jpg", "old4.jpg", cache.cached(info).name])
