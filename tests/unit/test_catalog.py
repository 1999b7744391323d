"""The recordings catalog on a local folder: keys, rows built from names, failures, cleanup."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from recconsole.core.recording_info import MetadataState, RecordingInfo
from recconsole.storage.base import StoreError
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.local import LocalStore

pytestmark = pytest.mark.unit

NAME = "demo-RM_xyz-1700000000000.mp4"


def _info(name: str, **changes: object) -> RecordingInfo:
    fields: dict[str, object] = {
        "id": "EG_1", "name": name, "room_name": "demo", "room_id": "RM_xyz",
        "started_at": 1700000000000, "duration": 3.5, "size": 10, **changes}
    return RecordingInfo(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "key", "meta"),
    [("recordings/", f"recordings/{NAME}", "recordings/.metadata/demo-RM_xyz-1700000000000.json"),
     ("", NAME, ".metadata/demo-RM_xyz-1700000000000.json"),
     ("rec", f"rec{NAME}", "rec.metadata/demo-RM_xyz-1700000000000.json")],
)
def test_keys_are_the_tutorials_concatenation(tmp_path: Path, path: str, key: str,
                                              meta: str) -> None:
    catalog = RecordingsCatalog(LocalStore(tmp_path), path)
    assert catalog.recording_key(NAME) == key
    assert catalog.metadata_key(NAME) == meta


@pytest.mark.asyncio
async def test_a_folder_that_does_not_exist_lists_nothing(tmp_path: Path) -> None:
    catalog = RecordingsCatalog(LocalStore(tmp_path / "nowhere"))
    assert await catalog.list_recordings() == []
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.asyncio
async def test_recordings_at_the_bucket_root_are_listed(tmp_path: Path) -> None:
    catalog = RecordingsCatalog(LocalStore(tmp_path), "")
    await catalog.store.write_bytes(NAME, b"0123456789")
    await catalog.save_metadata(_info(NAME))
    assert await catalog.list_recordings() == [_info(NAME)]


@pytest.mark.asyncio
async def test_a_row_is_named_after_its_file_whatever_its_metadata_says(tmp_path: Path) -> None:
    catalog = RecordingsCatalog(LocalStore(tmp_path))
    await catalog.store.write_bytes(catalog.recording_key(NAME), b"x")
    await catalog.store.write_bytes(catalog.metadata_key(NAME), _info("other.mp4").to_bytes())
    [row] = await catalog.list_recordings()
    assert row.name == NAME
    assert (row.id, row.duration, row.metadata) == ("EG_1", 3.5, MetadataState.OK)
    assert await catalog.get(NAME) == row


@pytest.mark.asyncio
async def test_a_file_named_otherwise_starts_when_it_was_written(tmp_path: Path) -> None:
    catalog = RecordingsCatalog(LocalStore(tmp_path))
    key = catalog.recording_key("holiday.mp4")
    await catalog.store.write_bytes(key, b"12345")
    written = datetime(2023, 3, 4, 5, 6, 7, tzinfo=UTC).timestamp()
    os.utime(tmp_path / key, (written, written))
    [row] = await catalog.list_recordings()
    assert (row.room_name, row.room_id, row.size) == ("", "", 5)
    assert row.started_at == int(written * 1000)
    assert row.metadata is MetadataState.MISSING
    assert await catalog.list_recordings(room_id="") == [row]


@pytest.mark.asyncio
async def test_metadata_with_wrong_field_types_is_unreadable(tmp_path: Path) -> None:
    catalog = RecordingsCatalog(LocalStore(tmp_path))
    await catalog.store.write_bytes(catalog.recording_key(NAME), b"x")
    await catalog.store.write_json(catalog.metadata_key(NAME),
                                   {"id": "EG_1", "name": NAME, "size": "big"})
    [row] = await catalog.list_recordings()
    assert row.metadata is MetadataState.UNREADABLE
    assert (row.room_id, row.started_at) == ("RM_xyz", 1700000000000)


class _BrokenMetadataStore(LocalStore):
    async def read_bytes(self, key: str) -> bytes:
        raise StoreError("storage unreachable at test: connection refused")


@pytest.mark.asyncio
async def test_a_failed_metadata_fetch_fails_the_listing_and_leaves_no_task(
    tmp_path: Path,
) -> None:
    catalog = RecordingsCatalog(_BrokenMetadataStore(tmp_path), concurrency=4)
    for i in range(3):
        name = f"demo-RM_xyz-{1700000000000 + i}.mp4"
        await catalog.store.write_bytes(catalog.recording_key(name), b"x")
        await LocalStore(tmp_path).write_bytes(catalog.metadata_key(name), _info(name).to_bytes())
    with pytest.raises(StoreError, match="connection refused"):
        await catalog.list_recordings()
    assert asyncio.all_tasks() == {asyncio.current_task()}


@pytest.mark.asyncio
async def test_leaving_a_listing_early_stops_its_work(tmp_path: Path) -> None:
    catalog = RecordingsCatalog(LocalStore(tmp_path, page_size=1), concurrency=2)
    for i in range(4):
        await catalog.store.write_bytes(catalog.recording_key(f"r{i}.mp4"), b"x")
    batches = catalog.iter_recordings()
    first = await anext(batches)
    assert first
    await batches.aclose()
    assert asyncio.all_tasks() == {asyncio.current_task()}


@pytest.mark.asyncio
async def test_other_apps_files_under_metadata_are_not_recordings(tmp_path: Path) -> None:
    catalog = RecordingsCatalog(LocalStore(tmp_path))
    await catalog.store.write_bytes(catalog.recording_key(NAME), b"0123456789")
    await catalog.save_metadata(_info(NAME))
    # OpenVidu Meet keeps room data under .metadata/{roomId}/ in the same bucket.
    await catalog.store.write_json("recordings/.metadata/RM_xyz/room_metadata.json", {"a": 1})
    await catalog.store.write_json("recordings/.metadata/stray.json", {"id": "EG_9"})
    assert await catalog.list_recordings() == [_info(NAME)]
