"""The recordings index: a new console knows the last listing before the store answers,
then reconciles with MinIO (or Azurite), reading only the metadata files that changed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio

from recconsole.core.recording_info import MetadataState, RecordingInfo
from recconsole.storage.azure import AzureStore
from recconsole.storage.base import ObjectStore, StoreError
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.index import RecordingsIndex
from recconsole.storage.s3 import S3Store
from recconsole_devtools.devstack import (
    AZURE_ACCOUNT,
    AZURE_CONTAINER,
    AZURE_KEY,
    MINIO_PASSWORD,
    MINIO_USER,
    S3_BUCKET,
    DevStack,
    StackConfig,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

StoreFactory = Callable[[], ObjectStore]


def _info(room: str, stamp: int, **changes: object) -> RecordingInfo:
    fields: dict[str, object] = {
        "id": f"EG_{room}", "name": f"{room}-RM_{room}-{stamp}.mp4", "room_name": room,
        "room_id": f"RM_{room}", "started_at": stamp, "duration": 4.0, "size": 3, **changes}
    return RecordingInfo(**fields)  # type: ignore[arg-type]


A = _info("alpha", 1700000000000, extra={"createdBy": "tests"})
B = _info("bravo", 1700000001000)  # a file without a metadata file
C = _info("charlie", 1700000002000)
D = _info("delta", 1700000003000)


def _s3(cfg: StackConfig) -> S3Store:
    return S3Store(cfg.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1", S3_BUCKET)


@pytest.fixture(params=["s3", "azure"])
def make_store(request: pytest.FixtureRequest) -> StoreFactory:
    if request.param == "s3":
        minio: StackConfig = request.getfixturevalue("minio_server")
        return lambda: _s3(minio)
    azurite: StackConfig = request.getfixturevalue("azurite_server")
    return lambda: AzureStore(AZURE_ACCOUNT, AZURE_KEY, AZURE_CONTAINER, azurite.azure_endpoint)


class Consoles:
    """Console processes one after the other: each its own store, catalog and index
    object, all on the same index file and recordings path."""

    def __init__(self, make_store: StoreFactory, index_file: Path) -> None:
        self.make_store = make_store
        self.index_file = index_file
        self.path = f"index-{uuid.uuid4().hex}/recordings/"
        self._open: list[RecordingsCatalog] = []

    def start(self) -> RecordingsCatalog:
        catalog = RecordingsCatalog(self.make_store(), self.path,
                                    index=RecordingsIndex(self.index_file))
        self._open.append(catalog)
        return catalog

    async def close(self) -> None:
        for catalog in self._open:
            await catalog.store.aclose()
            assert catalog.index is not None
            await catalog.index.close()
        self._open.clear()


@pytest_asyncio.fixture
async def consoles(make_store: StoreFactory, tmp_path: Path) -> AsyncIterator[Consoles]:
    made = Consoles(make_store, tmp_path / "data" / "recordings-index.sqlite3")
    yield made
    await made.close()


def _count_metadata_reads(catalog: RecordingsCatalog, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys the catalog reads whole (metadata files), as it reads them."""
    reads: list[str] = []
    read_bytes = catalog.store.read_bytes

    async def counted(key: str) -> bytes:
        reads.append(key)
        return await read_bytes(key)
    monkeypatch.setattr(catalog.store, "read_bytes", counted)
    return reads


async def _fill(catalog: RecordingsCatalog, *infos: RecordingInfo) -> None:
    for info in infos:
        await catalog.store.write_bytes(catalog.recording_key(info.name), b"mp4", "video/mp4")
        if info is not B:
            await catalog.store.write_bytes(catalog.metadata_key(info.name), info.to_bytes())


def _by_name(rows: list[RecordingInfo]) -> dict[str, tuple[RecordingInfo, MetadataState]]:
    return {r.name: (r, r.metadata) for r in rows}


async def test_the_first_listing_fills_the_index(consoles: Consoles) -> None:
    first = consoles.start()
    assert await first.known_recordings() == []
    await _fill(first, A, B, C)
    listed = await first.list_recordings()
    assert {r.name for r in listed} == {A.name, B.name, C.name}

    index = RecordingsIndex(consoles.index_file)
    try:
        entries = await index.load(first.scope)
    finally:
        await index.close()
    assert {name: e.row for name, e in entries.items()} == {r.name: r for r in listed}
    assert entries[A.name].row.extra == {"createdBy": "tests"}
    assert entries[A.name].meta_etag  # the version the row was read from
    assert entries[A.name].meta_modified is not None
    assert entries[B.name].meta_etag is None
    assert entries[B.name].row.metadata is MetadataState.MISSING


async def test_changes_while_closed_are_reconciled_reading_only_changed_metadata(
    consoles: Consoles, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = consoles.start()
    await _fill(first, A, B, C)
    before = await first.list_recordings()
    await consoles.close()

    # While no console runs: D is added, A's metadata rewritten, C deleted.
    changed_a = replace(A, duration=99.0)
    store = consoles.make_store()
    try:
        writer = RecordingsCatalog(store, consoles.path)
        await _fill(writer, D)
        await writer.save_metadata(changed_a)
        await writer.delete(C.name)
    finally:
        await store.aclose()

    second = consoles.start()
    reads = _count_metadata_reads(second, monkeypatch)
    assert _by_name(await second.known_recordings()) == _by_name(before)
    assert reads == []
    after = _by_name(await second.list_recordings())
    assert set(after) == {A.name, B.name, D.name}
    assert after[A.name][0].duration == 99.0
    assert after[D.name] == (D, MetadataState.OK)
    assert sorted(reads) == sorted([second.metadata_key(A.name), second.metadata_key(D.name)])

    third = consoles.start()
    reads = _count_metadata_reads(third, monkeypatch)
    assert _by_name(await third.known_recordings()) == after
    assert _by_name(await third.list_recordings()) == after
    assert reads == []  # nothing changed since: no metadata file is read


async def test_saved_deleted_and_fetched_recordings_update_the_index(
    consoles: Consoles, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = consoles.start()
    await _fill(first, A, B, C)
    await first.list_recordings()
    await first.store.write_bytes(first.recording_key(D.name), b"mp4", "video/mp4")
    await first.save_metadata(D)  # as RecordingSaved does
    await first.delete(C.name)
    await first.forget(A.name)  # another console deleted it and told the room
    await consoles.close()

    second = consoles.start()
    assert {r.name for r in await second.known_recordings()} == {B.name, D.name}
    reads = _count_metadata_reads(second, monkeypatch)
    rows = {r.name for r in await second.list_recordings()}
    assert rows == {A.name, B.name, D.name}  # A's file is still there: the listing says so
    assert sorted(reads) == sorted([second.metadata_key(A.name), second.metadata_key(D.name)])


async def test_a_new_console_shows_the_index_before_the_store_answers(
    private_minio: DevStack, tmp_path: Path
) -> None:
    consoles = Consoles(lambda: _s3(private_minio.cfg), tmp_path / "recordings-index.sqlite3")
    try:
        first = consoles.start()
        await _fill(first, A, B)
        before = _by_name(await first.list_recordings())
        await consoles.close()

        private_minio.stop("minio")
        second = consoles.start()
        assert _by_name(await second.known_recordings()) == before
        with pytest.raises(StoreError):
            await second.list_recordings()
        assert _by_name(await second.known_recordings()) == before  # a failure keeps them

        private_minio.start("minio")
        await _fill(second, C)
        assert set(_by_name(await second.list_recordings())) == {A.name, B.name, C.name}
        await consoles.close()
        third = consoles.start()
        assert set(_by_name(await third.known_recordings())) == {A.name, B.name, C.name}
    finally:
        await consoles.close()
