"""One contract for every object store (MinIO through S3Store, Azurite through AzureStore,
a folder through LocalStore), and the recordings catalog on top of each."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import parse_qs, urlsplit
from urllib.request import url2pathname

import pytest
import pytest_asyncio

from recconsole.core.recording_info import MetadataState, RecordingInfo, RecordingNameError
from recconsole.settings import Settings
from recconsole.storage import s3
from recconsole.storage.azure import AzureStore
from recconsole.storage.base import (
    DEFAULT_CHUNK_SIZE,
    FileJournal,
    InvalidRange,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    StoreError,
    UploadJournal,
)
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.local import LocalStore
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

pytestmark = pytest.mark.integration

StoreFactory = Callable[..., ObjectStore]


class RecordingStore(ObjectStore):
    """Passes every call to ``inner`` and notes it; ``gate`` can hold later listing pages."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str]] = []
        self.gate: asyncio.Event | None = None
        self.gated_prefix = ""

    @property
    def describe(self) -> str:
        return self.inner.describe

    def count(self, operation: str) -> int:
        return sum(1 for op, _ in self.calls if op == operation)

    async def list_page(
        self, prefix: str, token: str | None = None, *, recursive: bool = True,
        folders: bool = False,
    ) -> tuple[list[ObjectInfo], str | None]:
        self.calls.append(("list_page", prefix))
        if self.gate is not None and token is not None and prefix == self.gated_prefix:
            await self.gate.wait()
        return await self.inner.list_page(prefix, token, recursive=recursive,
                                           folders=folders)

    async def head(self, key: str) -> ObjectInfo:
        self.calls.append(("head", key))
        return await self.inner.head(key)

    def read(
        self, key: str, start: int = 0, end: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> AsyncIterator[bytes]:
        self.calls.append(("read", key))
        return self.inner.read(key, start, end, chunk_size)

    async def read_bytes(self, key: str) -> bytes:
        self.calls.append(("read_bytes", key))
        return await self.inner.read_bytes(key)

    async def write_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        self.calls.append(("write_bytes", key))
        await self.inner.write_bytes(key, data, content_type)

    async def delete(self, key: str) -> None:
        self.calls.append(("delete", key))
        await self.inner.delete(key)

    async def playback_url(self, key: str, expires_in: int = 3600) -> str:
        self.calls.append(("playback_url", key))
        return await self.inner.playback_url(key, expires_in)

    async def aclose(self) -> None:
        self.calls.append(("aclose", ""))


@pytest.fixture(params=["s3", "local", "azure"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Builds a store of one backend (keyword arguments such as ``page_size`` pass through)."""
    if request.param == "s3":
        minio: StackConfig = request.getfixturevalue("minio_server")

        def s3(**kwargs: Any) -> ObjectStore:
            return S3Store(minio.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1",
                           S3_BUCKET, **kwargs)
        return s3
    if request.param == "azure":
        azurite: StackConfig = request.getfixturevalue("azurite_server")

        def azure(**kwargs: Any) -> ObjectStore:
            return AzureStore(AZURE_ACCOUNT, AZURE_KEY, AZURE_CONTAINER, azurite.azure_endpoint,
                              **kwargs)
        return azure

    def local(**kwargs: Any) -> ObjectStore:
        return LocalStore(tmp_path / "objects", **kwargs)
    return local


@pytest_asyncio.fixture
async def stores(make_store: StoreFactory) -> AsyncIterator[StoreFactory]:
    """Like ``make_store``, and every store made is closed after the test."""
    made: list[ObjectStore] = []

    def make(**kwargs: Any) -> ObjectStore:
        made.append(make_store(**kwargs))
        return made[-1]
    yield make
    for store in made:
        await store.aclose()


@pytest_asyncio.fixture
async def store(stores: StoreFactory) -> ObjectStore:
    return stores()


@pytest.fixture
def prefix() -> str:
    """A fresh folder for one test, so tests never see each other's objects."""
    return f"contract-{uuid.uuid4().hex}/"


async def _read_all(store: ObjectStore, key: str, **kwargs: Any) -> list[bytes]:
    return [chunk async for chunk in store.read(key, **kwargs)]


def _fetch(
    url: str, method: str = "GET", data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """What a plain HTTP client (a media player) gets from ``url``."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as resp:
        body: bytes = resp.read()
        return body


# -- the store ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_written_object_reads_back_with_its_size_tag_and_date(
    store: ObjectStore, prefix: str
) -> None:
    key = prefix + "a/b c.bin"
    data = uuid.uuid4().bytes * 50
    await store.write_bytes(key, data, "video/mp4")

    assert await store.read_bytes(key) == data
    info = await store.head(key)
    assert (info.key, info.size) == (key, len(data))
    assert info.etag
    assert abs(info.last_modified - datetime.now(UTC)) < timedelta(minutes=5)
    assert await store.exists(key)
    assert not await store.exists(prefix + "a/missing")


@pytest.mark.asyncio
async def test_a_file_is_uploaded_whole_in_parts_where_it_is_large(
    store: ObjectStore, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3, "MULTIPART_PART", 5 * 1024 * 1024)  # S3's smallest part
    path = tmp_path / "recording.mp4"
    data = os.urandom(11 * 1024 * 1024 + 7)  # three parts on S3
    path.write_bytes(data)
    await store.write_file(prefix + "r.mp4", path, "video/mp4")
    info = await store.head(prefix + "r.mp4")
    assert info.size == len(data)
    if isinstance(store, S3Store):
        assert info.etag.endswith("-3")  # S3's tag of an object uploaded in three parts
    assert await store.read_bytes(prefix + "r.mp4") == data


class _CutShort(UploadJournal):
    """A file journal that records the parts each save adds, and fails (as a disk that
    filled up, or a process killed right there) once ``fail_after`` parts are noted."""

    def __init__(self, inner: UploadJournal, fail_after: int | None = None) -> None:
        self.inner, self.fail_after, self.sent = inner, fail_after, []

    def load(self) -> dict[str, Any] | None:
        return self.inner.load()

    def save(self, state: dict[str, Any]) -> None:
        before = set((self.inner.load() or {}).get("parts", {}))
        self.inner.save(state)
        self.sent += sorted(int(n) for n in set(state["parts"]) - before)
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise OSError(28, "No space left on device")

    def clear(self) -> None:
        self.inner.clear()


@pytest.mark.asyncio
async def test_an_upload_in_parts_cut_short_goes_on_from_the_parts_sent(
    store: ObjectStore, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if isinstance(store, LocalStore):
        pytest.skip("a local folder copies the file whole")
    monkeypatch.setattr(s3, "MULTIPART_PART", 5 * 1024 * 1024)
    path = tmp_path / "recording.mp4"
    data = os.urandom(11 * 1024 * 1024 + 7)  # three parts on S3, twelve blocks on Azure
    path.write_bytes(data)
    journal = FileJournal(tmp_path / "upload.json")
    first = _CutShort(journal, fail_after=1)
    with pytest.raises(OSError, match="No space"):
        await store.write_file(prefix + "r.mp4", path, "video/mp4", first)
    assert first.sent == [1]
    assert not await store.exists(prefix + "r.mp4")

    again = _CutShort(journal)
    await store.write_file(prefix + "r.mp4", path, "video/mp4", again)
    parts = 3 if isinstance(store, S3Store) else 12
    assert again.sent == list(range(2, parts + 1))  # not the first again
    assert await store.read_bytes(prefix + "r.mp4") == data
    assert (await store.head(prefix + "r.mp4")).size == len(data)
    assert journal.load() is None  # done: nothing to resume

    # A file changed since is uploaded afresh, not from the other one's parts.
    path.write_bytes(data[::-1])
    cut = _CutShort(journal, fail_after=1)
    with pytest.raises(OSError, match="No space"):
        await store.write_file(prefix + "r.mp4", path, "video/mp4", cut)
    path.write_bytes(data)
    fresh = _CutShort(journal)
    await store.write_file(prefix + "r.mp4", path, "video/mp4", fresh)
    assert fresh.sent == list(range(1, parts + 1))
    assert await store.read_bytes(prefix + "r.mp4") == data


@pytest.mark.asyncio
async def test_missing_object_is_object_not_found(store: ObjectStore, prefix: str) -> None:
    with pytest.raises(ObjectNotFound):
        await store.head(prefix + "missing")
    with pytest.raises(ObjectNotFound):
        await store.read_bytes(prefix + "missing")
    with pytest.raises(ObjectNotFound):
        await _read_all(store, prefix + "missing")


@pytest.mark.asyncio
async def test_rewriting_an_object_changes_its_etag(store: ObjectStore, prefix: str) -> None:
    key = prefix + "meta.json"
    await store.write_bytes(key, b'{"v":1}')
    first = await store.head(key)
    await store.write_bytes(key, b'{"v":2}')  # same size, other content
    second = await store.head(key)
    assert second.etag != first.etag
    assert await store.read_bytes(key) == b'{"v":2}'


@pytest.mark.asyncio
async def test_write_json_stores_compact_json(store: ObjectStore, prefix: str) -> None:
    await store.write_json(prefix + "x.json", {"name": "r.mp4", "size": 3})
    raw = await store.read_bytes(prefix + "x.json")
    assert json.loads(raw) == {"name": "r.mp4", "size": 3}


@pytest.mark.asyncio
async def test_delete_removes_and_is_idempotent(store: ObjectStore, prefix: str) -> None:
    key = prefix + "doomed.bin"
    await store.write_bytes(key, b"x")
    await store.delete(key)
    assert not await store.exists(key)
    await store.delete(key)  # already gone: no error
    page, token = await store.list_page(prefix)
    assert (page, token) == ([], None)


@pytest.mark.asyncio
async def test_listing_pages_through_everything_in_key_order(
    stores: StoreFactory, prefix: str
) -> None:
    store = stores(page_size=3)
    keys = [f"{prefix}f{i:02d}.bin" for i in range(7)] + [
        f"{prefix}f07 +%&é.bin", f"{prefix}sub/deep.bin", f"{prefix}z.bin"]
    await asyncio.gather(*(store.write_bytes(k, k.encode()) for k in keys))

    first, token = await store.list_page(prefix)
    assert [o.key for o in first] == sorted(keys)[:3]
    assert token is not None
    pages = [page async for page in store.list_pages(prefix)]
    assert [len(page) for page in pages] == [3, 3, 3, 1]
    listed = [o for page in pages for o in page]
    assert [o.key for o in listed] == sorted(keys)
    assert all(o.size == len(o.key.encode()) and o.etag for o in listed)
    # Without recursion the folder "sub/" is left out, even where it ends a page.
    flat = [o.key async for page in store.list_pages(prefix, recursive=False) for o in page]
    assert flat == [k for k in sorted(keys) if "/sub/" not in k]
    named = [o.key async for page in store.list_pages(prefix + "f0") for o in page]
    assert named == sorted(keys)[:8]


@pytest.mark.asyncio
async def test_ranged_reads_return_exactly_the_bytes_asked(
    store: ObjectStore, prefix: str
) -> None:
    key = prefix + "video.mp4"
    data = bytes(range(256)) * 4 + b"tail"
    await store.write_bytes(key, data)

    assert b"".join(await _read_all(store, key)) == data
    assert b"".join(await _read_all(store, key, start=10, end=19)) == data[10:20]
    assert b"".join(await _read_all(store, key, start=len(data) - 1)) == data[-1:]
    last = len(data) - 1
    assert b"".join(await _read_all(store, key, start=last, end=last)) == b"l"
    assert b"".join(await _read_all(store, key, start=1000, end=10**9)) == data[1000:]
    chunks = await _read_all(store, key, start=5, chunk_size=100)
    assert len(chunks) > 1
    assert b"".join(chunks) == data[5:]
    with pytest.raises(InvalidRange):
        await _read_all(store, key, start=len(data))
    with pytest.raises(ValueError, match="before its start"):
        await _read_all(store, key, start=5, end=4)


@pytest.mark.asyncio
async def test_empty_object_reads_as_nothing_and_refuses_ranges(
    store: ObjectStore, prefix: str
) -> None:
    key = prefix + "empty.bin"
    await store.write_bytes(key, b"")
    assert (await store.head(key)).size == 0
    assert await store.read_bytes(key) == b""
    assert b"".join(await _read_all(store, key)) == b""
    for start, end in ((0, 10), (1, None)):
        with pytest.raises(InvalidRange):
            await _read_all(store, key, start=start, end=end)


@pytest.mark.asyncio
async def test_large_object_streams_in_bounded_chunks(store: ObjectStore, prefix: str) -> None:
    key = prefix + "large.mp4"
    data = os.urandom(9 * 1024 * 1024 + 123)  # more than one download request's worth
    await store.write_bytes(key, data, "video/mp4")
    start, end = 4 * 1024 * 1024 - 10, 8 * 1024 * 1024 + 10  # across request boundaries
    chunks = await _read_all(store, key, start=start, end=end, chunk_size=512 * 1024)
    assert max(len(c) for c in chunks) <= 512 * 1024
    assert b"".join(chunks) == data[start:end + 1]
    assert b"".join(await _read_all(store, key, chunk_size=1024 * 1024)) == data


@pytest.mark.asyncio
async def test_playback_url_serves_the_object(
    store: ObjectStore, prefix: str, make_store: StoreFactory
) -> None:
    key = prefix + "play me.mp4"
    data = uuid.uuid4().bytes * 64
    await store.write_bytes(key, data, "video/mp4")
    url = await store.playback_url(key, expires_in=60)
    scheme = urlsplit(url).scheme
    if isinstance(store, S3Store | AzureStore):
        assert scheme == "http"
        assert await asyncio.to_thread(_fetch, url) == data
    else:
        assert scheme == "file"
        path = Path(url2pathname(urlsplit(url).path))
        assert await asyncio.to_thread(path.read_bytes) == data


# -- the catalog on each store ----------------------------------------------------------

A_NAME = "roomA-RM_aaa-1700000000000.mp4"
B_NAME = "roomB-RM_bbb-2024-05-01T101500.mp4"
C_NAME = "roomC-RM_ccc-1700000001000.mp4"
A_INFO = RecordingInfo(
    id="EG_a", name=A_NAME, room_name="roomA", room_id="RM_aaa", started_at=1700000000000,
    duration=12.5, size=1234, extra={"createdBy": "tests"},
)


T_NAME = "team/alpha-RM_ttt-1700000000500.mp4"
T_INFO = RecordingInfo(
    id="EG_t", name=T_NAME, room_name="team/alpha", room_id="RM_ttt", started_at=1700000000500,
    duration=3.0, size=44,
)


async def _fill(catalog: RecordingsCatalog) -> None:
    """A with metadata, B without, C with corrupt metadata, T in a subfolder with its
    metadata, an orphan metadata file, and objects that are not recordings (a text file,
    an egress manifest)."""
    store = catalog.store
    await asyncio.gather(
        store.write_bytes(catalog.recording_key(A_NAME), b"a" * 11, "video/mp4"),
        catalog.save_metadata(A_INFO),
        store.write_bytes(catalog.recording_key(B_NAME), b"b" * 22, "video/mp4"),
        store.write_bytes(catalog.recording_key(C_NAME), b"c" * 33, "video/mp4"),
        store.write_bytes(catalog.metadata_key(C_NAME), b'{"id": "EG_c", "name": '),
        store.write_json(catalog.metadata_key("gone-RM_ggg-1700000005000.mp4"),
                         {**A_INFO.to_json(), "name": "gone-RM_ggg-1700000005000.mp4"}),
        store.write_bytes(catalog.recordings_path + "notes.txt", b"not a recording"),
        store.write_bytes(catalog.recordings_path + A_NAME + ".json", b'{"egress_id": "EG_a"}'),
        # A room called "team/alpha" records into a subfolder, its metadata likewise.
        store.write_bytes(catalog.recording_key(T_NAME), b"t" * 44, "video/mp4"),
        catalog.save_metadata(T_INFO),
    )


@pytest.mark.asyncio
async def test_listing_joins_files_with_metadata_and_hides_nothing(
    store: ObjectStore, prefix: str
) -> None:
    catalog = RecordingsCatalog(store, prefix + "recordings/")
    await _fill(catalog)
    rows = {r.name: r for r in await catalog.list_recordings()}

    assert set(rows) == {A_NAME, B_NAME, C_NAME, T_NAME}
    assert rows[T_NAME] == T_INFO
    assert rows[T_NAME].metadata is MetadataState.OK
    assert rows[A_NAME] == A_INFO
    assert rows[A_NAME].metadata is MetadataState.OK
    assert rows[A_NAME].extra == {"createdBy": "tests"}
    b = rows[B_NAME]
    assert b.metadata is MetadataState.MISSING
    assert (b.room_name, b.room_id, b.size, b.duration) == ("roomB", "RM_bbb", 22, 0.0)
    assert b.started_at == int(datetime(2024, 5, 1, 10, 15, tzinfo=UTC).timestamp() * 1000)
    c = rows[C_NAME]
    assert c.metadata is MetadataState.UNREADABLE
    assert (c.room_id, c.started_at, c.size) == ("RM_ccc", 1700000001000, 33)


@pytest.mark.asyncio
async def test_listing_filters_by_room_id_and_puts_newest_first(
    store: ObjectStore, prefix: str
) -> None:
    catalog = RecordingsCatalog(store, prefix + "recordings/")
    await _fill(catalog)
    newest = [r.name for r in await catalog.list_recordings()]
    assert newest == [B_NAME, C_NAME, T_NAME, A_NAME]  # 2024, then 1700000001000, ...
    assert [r.name for r in await catalog.list_recordings("RM_aaa")] == [A_NAME]
    assert [r.name for r in await catalog.list_recordings("RM_bbb")] == [B_NAME]
    assert await catalog.list_recordings("RM_none") == []


@pytest.mark.asyncio
async def test_unchanged_metadata_is_not_fetched_again(store: ObjectStore, prefix: str) -> None:
    counted = RecordingStore(store)
    catalog = RecordingsCatalog(counted, prefix + "recordings/")
    await _fill(catalog)

    first = await catalog.list_recordings()
    assert counted.count("read_bytes") == 3  # A, C and T; the orphan is never read
    second = await catalog.list_recordings()
    assert counted.count("read_bytes") == 3
    assert [(r, r.metadata) for r in second] == [(r, r.metadata) for r in first]

    await catalog.store.write_json(catalog.metadata_key(A_NAME),
                                   {**A_INFO.to_json(), "duration": 99.0})
    third = {r.name: r for r in await catalog.list_recordings()}
    assert counted.count("read_bytes") == 4
    assert third[A_NAME].duration == 99.0


@pytest.mark.asyncio
async def test_rows_arrive_before_the_listing_ends(stores: StoreFactory, prefix: str) -> None:
    gated = RecordingStore(stores(page_size=2))
    catalog = RecordingsCatalog(gated, prefix + "recordings/")
    names = [f"room-RM_abc-{1700000000000 + i}.mp4" for i in range(5)]
    for name in names:
        await gated.write_bytes(catalog.recording_key(name), b"x")
        await catalog.save_metadata(RecordingInfo(
            id=f"EG_{name}", name=name, room_name="room", room_id="RM_abc",
            started_at=0, duration=1.0, size=1))
    gated.gate = asyncio.Event()
    gated.gated_prefix = catalog.recordings_path

    batches = catalog.iter_recordings()
    first = await asyncio.wait_for(anext(batches), 10)
    assert first
    assert {r.name for r in first} <= set(names[:2])  # only the first page is out
    gated.gate.set()
    rest = [r.name async for batch in batches for r in batch]
    assert sorted([r.name for r in first] + rest) == names


@pytest.mark.asyncio
async def test_get_save_and_playback_of_one_recording(store: ObjectStore, prefix: str) -> None:
    catalog = RecordingsCatalog(store, prefix + "recordings/")
    with pytest.raises(ObjectNotFound):
        await catalog.get(A_NAME)
    await store.write_bytes(catalog.recording_key(A_NAME), b"a" * 11)
    missing = await catalog.get(A_NAME)
    assert (missing.metadata, missing.size, missing.room_id) == (
        MetadataState.MISSING, 11, "RM_aaa")

    await catalog.save_metadata(A_INFO)
    await catalog.save_metadata(A_INFO)  # idempotent
    assert await catalog.get(A_NAME) == A_INFO
    raw = await store.read_bytes(prefix + "recordings/.metadata/roomA-RM_aaa-1700000000000.json")
    assert json.loads(raw) == A_INFO.to_json()
    url = await catalog.playback_url(A_NAME)
    assert url.startswith("file://" if isinstance(store, LocalStore) else "http://")


@pytest.mark.asyncio
async def test_delete_removes_file_metadata_and_egress_manifest(
    store: ObjectStore, prefix: str
) -> None:
    catalog = RecordingsCatalog(store, prefix + "recordings/")
    await _fill(catalog)
    assert await store.exists(catalog.manifest_key(A_NAME))
    await catalog.delete(A_NAME)
    assert not await store.exists(catalog.recording_key(A_NAME))
    assert not await store.exists(catalog.metadata_key(A_NAME))
    assert not await store.exists(catalog.manifest_key(A_NAME))
    await catalog.delete(T_NAME)  # in a subfolder, like any other
    assert not await store.exists(catalog.recording_key(T_NAME))
    assert not await store.exists(catalog.metadata_key(T_NAME))
    assert A_NAME not in {r.name for r in await catalog.list_recordings()}
    await catalog.delete(A_NAME)  # already gone: no error
    await catalog.delete(B_NAME)  # no metadata file: no error
    assert not await store.exists(catalog.recording_key(B_NAME))


@pytest.mark.parametrize(
    "name", ["../escape.mp4", "a/../../b.mp4", "..", "", ".metadata", ".metadata/x.mp4",
             "/abs.mp4", "a//b.mp4", "bad\x00.mp4", "x.mp4.json", "notes.txt"])
@pytest.mark.asyncio
async def test_invalid_names_are_refused_before_touching_storage(
    store: ObjectStore, prefix: str, name: str
) -> None:
    counted = RecordingStore(store)
    catalog = RecordingsCatalog(counted, prefix + "recordings/")
    info = RecordingInfo(id="EG", name=name, room_name="r", room_id="RM_x", started_at=0,
                         duration=0.0, size=0)
    attempts: list[Callable[[], Awaitable[object]]] = [
        lambda: catalog.get(name), lambda: catalog.delete(name),
        lambda: catalog.save_metadata(info), lambda: catalog.playback_url(name)]
    for attempt in attempts:
        with pytest.raises(RecordingNameError):
            await attempt()
    with pytest.raises(RecordingNameError):
        catalog.recording_key(name)
    with pytest.raises(RecordingNameError):
        catalog.metadata_key(name)
    assert counted.calls == []


# -- faults -----------------------------------------------------------------------------


async def _every_operation_fails(
    store: ObjectStore, match: str, *, head_says_why: bool = False
) -> float:
    """Each kind of call raises a StoreError whose message matches, none 'not found';
    returns how long the slowest call took to fail.

    S3 answers a HEAD with no body to tell why; Azure puts its error code in a header,
    so there (``head_says_why``) every message is checked, deletes and streams too.
    """
    catalog = RecordingsCatalog(store, "recordings/")
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: store.list_page("recordings/"), lambda: store.read_bytes("recordings/x.json"),
        lambda: store.write_bytes("recordings/x.json", b"{}"), catalog.list_recordings]
    if head_says_why:
        calls += [lambda: store.list_page("recordings/", recursive=False),
                  lambda: _read_all(store, "recordings/x.mp4", start=10),
                  lambda: store.delete("recordings/x.mp4")]
    calls.append(lambda: store.head("recordings/x.mp4"))
    slowest = 0.0
    for call in calls:
        started = time.monotonic()
        with pytest.raises(StoreError) as raised:
            await call()
        slowest = max(slowest, time.monotonic() - started)
        assert not isinstance(raised.value, ObjectNotFound)
        if head_says_why or call is not calls[-1]:
            assert re.search(match, str(raised.value)), str(raised.value)
    return slowest


@pytest.mark.asyncio
async def test_wrong_bucket_is_a_readable_store_error(minio_server: StackConfig) -> None:
    bucket = f"missing-{uuid.uuid4().hex[:12]}"
    store = S3Store(minio_server.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1", bucket)
    try:
        await _every_operation_fails(store, f'bucket "{bucket}" does not exist')
    finally:
        await store.aclose()


@pytest.mark.asyncio
async def test_unreachable_endpoint_fails_fast_with_the_reason() -> None:
    store = S3Store("http://127.0.0.1:9", MINIO_USER, MINIO_PASSWORD, "us-east-1", S3_BUCKET)
    try:
        slowest = await _every_operation_fails(
            store, r"storage unreachable at http://127\.0\.0\.1:9")
    finally:
        await store.aclose()
    assert slowest < 5  # refused at once: no call waits out its 10 s timeout


@pytest.mark.asyncio
async def test_wrong_credentials_are_rejected_without_showing_them(
    minio_server: StackConfig,
) -> None:
    secret = f"wrong-{uuid.uuid4().hex}"
    store = S3Store(minio_server.s3_endpoint, MINIO_USER, secret, "us-east-1", S3_BUCKET)
    try:
        await _every_operation_fails(store, "credentials rejected by the storage")
        with pytest.raises(StoreError) as raised:
            await store.read_bytes("recordings/x.json")
    finally:
        await store.aclose()
    assert secret not in str(raised.value)
    assert secret not in repr(store)
    assert secret not in store.describe


@pytest.mark.asyncio
async def test_local_keys_cannot_leave_the_root(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "root")
    for key in ("../outside", "/etc/passwd", "a/../../outside", "a//b", ""):
        with pytest.raises(StoreError):
            await store.write_bytes(key, b"x")
        with pytest.raises(StoreError):
            await store.read_bytes(key)
    assert not (tmp_path / "outside").exists()
    assert not (tmp_path / "root").exists()


@pytest.mark.asyncio
async def test_store_from_settings_never_shows_its_secrets(minio_server: StackConfig) -> None:
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    settings = Settings.from_env({**minio_server.env(), "S3_SECRET_KEY": secret})
    store = S3Store.from_settings(settings)
    try:
        assert store.describe == f"s3 {minio_server.s3_endpoint} bucket {S3_BUCKET}"
        with pytest.raises(StoreError, match="credentials rejected") as raised:
            await store.list_page("recordings/")
        url = await store.playback_url("recordings/x.mp4")
    finally:
        await store.aclose()
    for shown in (repr(store), str(raised.value), url):
        assert secret not in shown


# -- Azure Blob specifics ---------------------------------------------------------------


def _content_type(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return str(resp.headers["Content-Type"])


@pytest.mark.asyncio
async def test_azure_blobs_keep_their_content_type(
    azurite_server: StackConfig, prefix: str
) -> None:
    store = AzureStore(AZURE_ACCOUNT, AZURE_KEY, AZURE_CONTAINER, azurite_server.azure_endpoint)
    small, large = prefix + "small.json", prefix + "large.mp4"
    try:
        await store.write_json(small, {"a": 1})
        await store.write_bytes(large, b"x" * (3 * 1024 * 1024), "video/mp4")  # in blocks
        url = await store.playback_url(large)
        assert await asyncio.to_thread(_content_type, url) == "video/mp4"
        await store.write_bytes(large, b"y" * 10, "video/webm")  # replaced by one small put
        assert await asyncio.to_thread(_content_type, url) == "video/webm"
        assert await asyncio.to_thread(_fetch, url) == b"y" * 10
        small_url = await store.playback_url(small)
        assert await asyncio.to_thread(_content_type, small_url) == "application/json"
    finally:
        await store.aclose()


def _azure_key() -> str:
    """A well-formed account key that no account has."""
    return base64.b64encode(os.urandom(64)).decode()


@pytest.mark.asyncio
async def test_azure_playback_url_is_a_short_lived_read_only_sas(
    azurite_server: StackConfig, prefix: str
) -> None:
    store = AzureStore(AZURE_ACCOUNT, AZURE_KEY, AZURE_CONTAINER, azurite_server.azure_endpoint)
    key = prefix + "sas me.mp4"
    try:
        await store.write_bytes(key, b"original", "video/mp4")
        before = datetime.now(UTC).replace(microsecond=0)
        url = await store.playback_url(key, expires_in=120)
        query = parse_qs(urlsplit(url).query)
        assert query["sp"] == ["r"]
        expiry = datetime.fromisoformat(query["se"][0].replace("Z", "+00:00"))
        assert before + timedelta(seconds=120) <= expiry <= before + timedelta(seconds=122)
        assert await asyncio.to_thread(_fetch, url) == b"original"
        # What a player seeking through the recording asks for.
        assert await asyncio.to_thread(_fetch, url, headers={"Range": "bytes=2-4"}) == b"igi"
        assert await asyncio.to_thread(_content_type, url) == "video/mp4"
        for method, data in (("PUT", b"overwritten"), ("DELETE", None)):
            with pytest.raises(HTTPError) as refused:
                await asyncio.to_thread(_fetch, url, method, data, {"x-ms-blob-type": "BlockBlob"})
            assert refused.value.code == 403
            refused.value.close()
        assert await store.read_bytes(key) == b"original"
        with pytest.raises(ValueError, match="expires_in"):
            await store.playback_url(key, expires_in=0)
    finally:
        await store.aclose()


@pytest.mark.asyncio
async def test_azure_requests_stay_out_of_the_info_log_and_never_log_secrets(
    azurite_server: StackConfig, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong_key = _azure_key()
    store = AzureStore(AZURE_ACCOUNT, AZURE_KEY, AZURE_CONTAINER, azurite_server.azure_endpoint)
    rejected = AzureStore(AZURE_ACCOUNT, wrong_key, AZURE_CONTAINER,
                          azurite_server.azure_endpoint)
    try:
        await store.write_bytes(prefix + "x.bin", b"abc")
        assert await store.read_bytes(prefix + "x.bin") == b"abc"
        url = await store.playback_url(prefix + "x.bin")
        with pytest.raises(StoreError):
            await rejected.head(prefix + "x.bin")
    finally:
        await store.aclose()
        await rejected.aclose()
    signature = parse_qs(urlsplit(url).query)["sig"][0]
    assert any(r.name.startswith("azure.") for r in caplog.records)  # the SDK did log
    assert [r.getMessage() for r in caplog.records
            if r.name.startswith("azure.") and r.levelno >= logging.INFO] == []
    for secret in (AZURE_KEY, wrong_key, signature):
        assert secret not in caplog.text


@pytest.mark.asyncio
async def test_missing_container_is_a_readable_store_error(azurite_server: StackConfig) -> None:
    container = f"missing-{uuid.uuid4().hex[:12]}"
    store = AzureStore(AZURE_ACCOUNT, AZURE_KEY, container, azurite_server.azure_endpoint)
    try:
        await _every_operation_fails(
            store, f'container "{container}" does not exist at '
            f"{re.escape(azurite_server.azure_endpoint)}", head_says_why=True)
    finally:
        await store.aclose()


@pytest.mark.asyncio
async def test_unreachable_azure_endpoint_fails_fast_with_the_reason() -> None:
    store = AzureStore(AZURE_ACCOUNT, AZURE_KEY, AZURE_CONTAINER,
                       "http://127.0.0.1:9/devstoreaccount1")
    try:
        slowest = await _every_operation_fails(
            store, r"storage unreachable at http://127\.0\.0\.1:9/devstoreaccount1: "
            "connection refused", head_says_why=True)
    finally:
        await store.aclose()
    assert slowest < 5  # refused at once: no retry pause, no 10 s timeout


@pytest.mark.asyncio
async def test_silent_azure_endpoint_times_out_with_the_reason() -> None:
    handlers: list[asyncio.Task[Any]] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        try:
            await reader.read()  # until the client gives up and closes
        finally:
            writer.close()
            await writer.wait_closed()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = AzureStore(AZURE_ACCOUNT, AZURE_KEY, AZURE_CONTAINER,
                       f"http://127.0.0.1:{port}/devstoreaccount1", timeout=0.5)
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match=r"did not answer within 0\.5 s"):
            await store.head("recordings/x.mp4")
        elapsed = time.monotonic() - started
    finally:
        await store.aclose()
        server.close()
        await asyncio.wait_for(asyncio.gather(*handlers), 10)
        await server.wait_closed()
    assert handlers  # the request reached the server, which kept silent
    assert 0.5 <= elapsed < 5


@pytest.mark.asyncio
async def test_wrong_azure_key_is_rejected_without_showing_it(
    azurite_server: StackConfig,
) -> None:
    secret = _azure_key()
    store = AzureStore(AZURE_ACCOUNT, secret, AZURE_CONTAINER, azurite_server.azure_endpoint)
    try:
        await _every_operation_fails(store, "credentials rejected by the storage",
                                     head_says_why=True)
        with pytest.raises(StoreError) as raised:
            await store.read_bytes("recordings/x.json")
    finally:
        await store.aclose()
    for shown in (str(raised.value), repr(store), store.describe):
        assert secret not in shown


@pytest.mark.parametrize("key", ["", "not base64!", "c2VjcmV"])
def test_malformed_azure_key_is_refused_without_showing_it(key: str) -> None:
    with pytest.raises(StoreError, match="AZURE_ACCOUNT_KEY") as raised:
        AzureStore(AZURE_ACCOUNT, key, AZURE_CONTAINER)
    assert key == "" or key not in str(raised.value)


@pytest.mark.parametrize(
    "endpoint", ["http://user:pw@127.0.0.1:10000/devstoreaccount1",
                 "https://acct.blob.core.windows.net?sv=2024&sig=abc", "ftp://host/acct",
                 "not a url", "http://[::1/devstoreaccount1", "http://127.0.0.1:99999/x",
                 "http://user:pw@[::1/devstoreaccount1"])
def test_azure_endpoint_with_credentials_or_odd_scheme_is_refused(endpoint: str) -> None:
    with pytest.raises(StoreError) as raised:
        AzureStore(AZURE_ACCOUNT, AZURE_KEY, AZURE_CONTAINER, endpoint)
    for secret in ("pw", "sig=abc"):
        assert secret not in str(raised.value)


def test_azure_endpoint_defaults_to_the_account_on_azure() -> None:
    store = AzureStore("acct", AZURE_KEY, "recs")
    assert store.describe == "azure https://acct.blob.core.windows.net container recs"
    assert repr(store) == f"<AzureStore {store.describe}>"


@pytest.mark.asyncio
async def test_azure_store_from_settings_never_shows_its_secrets(
    azurite_server: StackConfig,
) -> None:
    secret = _azure_key()
    settings = Settings.from_env({**azurite_server.env(), "AZURE_ACCOUNT_KEY": secret})
    store = AzureStore.from_settings(settings)
    try:
        endpoint = azurite_server.azure_endpoint
        assert store.describe == f"azure {endpoint} container {AZURE_CONTAINER}"
        with pytest.raises(StoreError, match="credentials rejected") as raised:
            await store.list_page("recordings/")
        url = await store.playback_url("recordings/x.mp4")
    finally:
        await store.aclose()
    for shown in (repr(store), str(raised.value), url):
        assert secret not in shown



@pytest.mark.asyncio
async def test_read_if_match_reads_only_the_version_asked_for(
    store: ObjectStore, prefix: str
) -> None:
    from recconsole.storage.base import ObjectChanged  # appended test: imports kept local

    key = prefix + "replaced.mp4"
    await store.write_bytes(key, b"first version!" * 100)
    stale = (await store.head(key)).etag
    data = b"second version" * 100  # same size, other content
    await store.write_bytes(key, data)
    current = (await store.head(key)).etag
    assert current != stale

    assert b"".join(await _read_all(store, key, if_match=current)) == data
    assert b"".join(await _read_all(store, key, start=7, end=99, if_match=current)) == data[7:100]
    assert b"".join(await _read_all(store, key, if_match=f'"{current}"')) == data  # quoted too
    for ranged in ({}, {"start": 7}, {"start": 7, "end": 99}):
        with pytest.raises(ObjectChanged) as raised:
            await _read_all(store, key, if_match=stale, **ranged)
        assert isinstance(raised.value, StoreError)
        assert key in str(raised.value)
    [listed] = (await store.list_page(key))[0]  # a listing's tag is as good as a HEAD's
    assert b"".join(await _read_all(store, key, if_match=listed.etag)) == data
