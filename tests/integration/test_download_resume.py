"""Downloading a recording resumes only onto the version it started with (MinIO through
S3Store, Azurite through AzureStore, a folder through LocalStore): a recording replaced
between two attempts, or between the HEAD and the read, is downloaded anew, never spliced."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from recconsole.storage.azure import AzureStore
from recconsole.storage.base import DEFAULT_CHUNK_SIZE, ObjectChanged, ObjectInfo, ObjectStore
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.local import LocalStore
from recconsole.storage.recordings import DownloadCancelled, download
from recconsole.storage.s3 import S3Store
from recconsole_devtools.devstack import (
    AZURE_ACCOUNT,
    AZURE_CONTAINER,
    AZURE_KEY,
    MINIO_PASSWORD,
    MINIO_USER,
    S3_BUCKET,
    StackConfig,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

CHUNK = DEFAULT_CHUNK_SIZE  # what download() asks for at a time
SIZE = 3 * CHUNK + 123  # several chunks


@pytest_asyncio.fixture(params=["s3", "local", "azure"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ObjectStore]:
    """A store of one backend, closed after the test."""
    made: ObjectStore
    if request.param == "s3":
        minio: StackConfig = request.getfixturevalue("minio_server")
        made = S3Store(minio.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1", S3_BUCKET)
    elif request.param == "azure":
        azurite: StackConfig = request.getfixturevalue("azurite_server")
        made = AzureStore(AZURE_ACCOUNT, AZURE_KEY, AZURE_CONTAINER, azurite.azure_endpoint)
    else:
        made = LocalStore(tmp_path / "objects")
    yield made
    await made.aclose()


@pytest.fixture
def name() -> str:
    return f"dl{uuid.uuid4().hex[:8]}-RM_x-1700000000000.mp4"


def _catalog(store: ObjectStore) -> RecordingsCatalog:
    return RecordingsCatalog(store, f"download-{uuid.uuid4().hex}/")


class Progress:
    """Notes every ``progress(done, total)`` call; can cancel after a number of them."""

    def __init__(self, cancel_after: int | None = None) -> None:
        self.seen: list[tuple[int, int]] = []
        self.cancel_after = cancel_after

    def __call__(self, done: int, total: int) -> None:
        self.seen.append((done, total))

    def cancelled(self) -> bool:
        return self.cancel_after is not None and len(self.seen) >= self.cancel_after


class RacingStore(ObjectStore):
    """Passes calls to ``inner``, but its first ``races`` HEADs each answer what the object
    was and then replace it (with ``replacements``, in turn) before the caller reads it."""

    def __init__(self, inner: ObjectStore, replacements: list[bytes], races: int) -> None:
        self.inner = inner
        self.replacements = replacements
        self.races = races
        self.reads: list[tuple[int, str | None]] = []
        self.changed = 0  # reads that ended in ObjectChanged

    @property
    def describe(self) -> str:
        return self.inner.describe

    async def list_page(
        self, prefix: str, token: str | None = None, *, recursive: bool = True,
        folders: bool = False,
    ) -> tuple[list[ObjectInfo], str | None]:
        return await self.inner.list_page(prefix, token, recursive=recursive,
                                           folders=folders)

    async def head(self, key: str) -> ObjectInfo:
        info = await self.inner.head(key)
        if self.races > 0:
            self.races -= 1
            await self.inner.write_bytes(key, self.replacements.pop(0), "video/mp4")
        return info

    async def read(
        self, key: str, start: int = 0, end: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE, *, if_match: str | None = None,
    ) -> AsyncIterator[bytes]:
        self.reads.append((start, if_match))
        try:
            async for chunk in self.inner.read(key, start, end, chunk_size, if_match=if_match):
                yield chunk
        except ObjectChanged:
            self.changed += 1
            raise

    async def read_bytes(self, key: str) -> bytes:
        return await self.inner.read_bytes(key)

    async def write_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        await self.inner.write_bytes(key, data, content_type)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def playback_url(self, key: str, expires_in: int = 3600) -> str:
        return await self.inner.playback_url(key, expires_in)

    async def aclose(self) -> None:
        return None


class ReplacingMidReadStore(RacingStore):
    """Replaces the object with ``replacement`` right after the first chunk it hands out."""

    def __init__(self, inner: ObjectStore, replacement: bytes) -> None:
        super().__init__(inner, [], races=0)
        self.replacement: bytes | None = replacement

    async def read(
        self, key: str, start: int = 0, end: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE, *, if_match: str | None = None,
    ) -> AsyncIterator[bytes]:
        async for chunk in super().read(key, start, end, chunk_size, if_match=if_match):
            yield chunk
            if self.replacement is not None:
                data, self.replacement = self.replacement, None
                await self.inner.write_bytes(key, data, "video/mp4")


async def _cancelled_after_one_chunk(
    catalog: RecordingsCatalog, name: str, target: Path
) -> int:
    """Start a download and cancel it after its first chunk; the bytes kept."""
    progress = Progress(cancel_after=2)  # (0, size), then the first chunk
    with pytest.raises(DownloadCancelled, match="stopped at"):
        await download(catalog, name, target, progress, progress.cancelled)
    return progress.seen[-1][0]


def _part(target: Path) -> Path:
    return target.with_name(target.name + ".part")


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".part.json")


async def test_cancelled_download_resumes_onto_the_same_object(
    store: ObjectStore, name: str, tmp_path: Path
) -> None:
    catalog = _catalog(store)
    key = catalog.recording_key(name)
    payload = os.urandom(SIZE)
    await store.write_bytes(key, payload, "video/mp4")
    target = tmp_path / name
    noted_before_first_byte: list[bool] = []

    def progress(done: int, total: int) -> None:
        if done == 0:
            noted_before_first_byte.append(_sidecar(target).exists())

    with pytest.raises(DownloadCancelled, match="stopped at"):
        await download(catalog, name, target, progress, lambda: True)
    assert noted_before_first_byte == [True]
    kept = _part(target).stat().st_size
    assert 0 < kept < SIZE
    assert _part(target).read_bytes() == payload[:kept]
    assert _sidecar(target).exists()  # kept with the .part, to resume later
    assert not target.exists()

    resumed = Progress()
    assert await download(catalog, name, target, resumed) == target
    assert resumed.seen[0] == (kept, SIZE)  # resumed, not restarted
    assert resumed.seen[-1] == (SIZE, SIZE)
    assert target.read_bytes() == payload
    assert not _part(target).exists()
    assert not _sidecar(target).exists()


@pytest.mark.parametrize("new_size", [SIZE, SIZE + 5000, SIZE - 5000, CHUNK // 2],
                         ids=["same-size", "larger", "smaller", "shorter-than-the-part"])
async def test_object_replaced_between_attempts_is_downloaded_anew(
    store: ObjectStore, name: str, tmp_path: Path, new_size: int
) -> None:
    catalog = _catalog(store)
    key = catalog.recording_key(name)
    await store.write_bytes(key, os.urandom(SIZE), "video/mp4")
    target = tmp_path / name
    kept = await _cancelled_after_one_chunk(catalog, name, target)
    assert kept == CHUNK

    replacement = os.urandom(new_size)
    await store.write_bytes(key, replacement, "video/mp4")
    progress = Progress()
    await download(catalog, name, target, progress)
    assert progress.seen[0] == (0, new_size)  # started over
    assert target.read_bytes() == replacement
    assert not _sidecar(target).exists()


@pytest.mark.parametrize("sidecar", [None, b"", b'{"format": "recconsole download p',
                                     b"[1, 2]", b"\xff\xfe not json"],
                         ids=["missing", "empty", "torn", "not-an-object", "not-text"])
async def test_part_without_a_readable_sidecar_is_not_resumed(
    store: ObjectStore, name: str, tmp_path: Path, sidecar: bytes | None
) -> None:
    catalog = _catalog(store)
    payload = os.urandom(SIZE)
    await store.write_bytes(catalog.recording_key(name), payload, "video/mp4")
    target = tmp_path / name
    _part(target).write_bytes(os.urandom(CHUNK))  # of some other version, or of nothing
    if sidecar is not None:
        _sidecar(target).write_bytes(sidecar)
    progress = Progress()
    await download(catalog, name, target, progress)
    assert progress.seen[0] == (0, SIZE)
    assert target.read_bytes() == payload


async def test_sidecar_of_another_recording_is_not_resumed(
    store: ObjectStore, name: str, tmp_path: Path
) -> None:
    """The same target chosen for another recording of the same content and size."""
    catalog = _catalog(store)
    payload = os.urandom(SIZE)
    other = f"other{uuid.uuid4().hex[:8]}-RM_y-1700000000000.mp4"
    await store.write_bytes(catalog.recording_key(name), payload, "video/mp4")
    await store.write_bytes(catalog.recording_key(other), payload, "video/mp4")
    target = tmp_path / name
    await _cancelled_after_one_chunk(catalog, other, target)
    noted = json.loads(_sidecar(target).read_bytes())
    assert noted["key"] == catalog.recording_key(other)

    progress = Progress()
    await download(catalog, name, target, progress)
    assert progress.seen[0] == (0, SIZE)
    assert target.read_bytes() == payload


async def test_object_replaced_between_head_and_read_is_downloaded_anew(
    store: ObjectStore, name: str, tmp_path: Path
) -> None:
    catalog = _catalog(store)
    key = catalog.recording_key(name)
    await store.write_bytes(key, os.urandom(SIZE), "video/mp4")
    replacement = os.urandom(SIZE)  # same size: only the ETag tells them apart
    racing = RacingStore(store, [replacement], races=1)
    target = tmp_path / name
    progress = Progress()

    await download(RecordingsCatalog(racing, catalog.recordings_path), name, target, progress)
    assert racing.changed == 1
    assert [start for start, _ in racing.reads] == [0, 0]
    old_tag, new_tag = (tag for _, tag in racing.reads)
    assert new_tag == (await store.head(key)).etag != old_tag
    assert target.read_bytes() == replacement
    assert not _part(target).exists()
    assert not _sidecar(target).exists()


async def test_resume_onto_an_object_replaced_after_its_head_is_not_spliced(
    store: ObjectStore, name: str, tmp_path: Path
) -> None:
    """The HEAD still shows the version the .part holds; the ranged read must not."""
    catalog = _catalog(store)
    key = catalog.recording_key(name)
    await store.write_bytes(key, os.urandom(SIZE), "video/mp4")
    target = tmp_path / name
    kept = await _cancelled_after_one_chunk(catalog, name, target)

    replacement = os.urandom(SIZE)
    racing = RacingStore(store, [replacement], races=1)
    progress = Progress()
    await download(RecordingsCatalog(racing, catalog.recordings_path), name, target, progress)
    assert racing.changed == 1
    assert [start for start, _ in racing.reads] == [kept, 0]  # tried to resume, started over
    assert progress.seen[0] == (kept, SIZE)
    assert (0, SIZE) in progress.seen
    assert target.read_bytes() == replacement


async def test_object_that_keeps_changing_fails_with_a_clear_message(
    store: ObjectStore, name: str, tmp_path: Path
) -> None:
    catalog = _catalog(store)
    key = catalog.recording_key(name)
    await store.write_bytes(key, os.urandom(SIZE), "video/mp4")
    racing = RacingStore(store, [os.urandom(SIZE), os.urandom(SIZE)], races=2)
    target = tmp_path / name

    with pytest.raises(ObjectChanged, match="kept changing while it was being downloaded"):
        await download(RecordingsCatalog(racing, catalog.recordings_path), name, target)
    assert racing.changed == 2
    assert not target.exists()


async def test_azure_blob_replaced_during_the_read_is_downloaded_anew(
    azurite_server: StackConfig, name: str, tmp_path: Path
) -> None:
    """Azure reads a large blob in several requests, each conditional on the first's ETag."""
    store = AzureStore(AZURE_ACCOUNT, AZURE_KEY, AZURE_CONTAINER, azurite_server.azure_endpoint)
    try:
        catalog = _catalog(store)
        key = catalog.recording_key(name)
        await store.write_bytes(key, os.urandom(9 * 1024 * 1024), "video/mp4")
        replacement = os.urandom(9 * 1024 * 1024 + 77)  # more than one request's worth
        replacing = ReplacingMidReadStore(store, replacement)
        target = tmp_path / name
        progress = Progress()

        await download(RecordingsCatalog(replacing, catalog.recordings_path), name, target,
                       progress)
        assert replacing.replacement is None
        assert replacing.changed == 1
        assert progress.seen[1] == (CHUNK, 9 * 1024 * 1024)  # the first version was read
        assert (0, len(replacement)) in progress.seen  # then the second from its start
        assert target.read_bytes() == replacement
    finally:
        await store.aclose()
