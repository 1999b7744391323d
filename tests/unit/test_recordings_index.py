"""The recordings index file on its own: scopes apart, extras kept, a broken file replaced."""

from __future__ import annotations

from pathlib import Path

import pytest

from recconsole.core.recording_info import MetadataState, RecordingInfo
from recconsole.storage.index import IndexedRecording, RecordingsIndex

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]

ROW = RecordingInfo("EG_1", "demo-RM_x-1.mp4", "demo", "RM_x", 1, 2.5, 3,
                    extra={"status": "FAILED", "error": "no space"})


async def test_rows_come_back_whole_and_scopes_stay_apart(tmp_path: Path) -> None:
    index = RecordingsIndex(tmp_path / "index.sqlite3")
    missing = RecordingInfo("", "other-RM_y-2.mp4", "other", "RM_y", 2, 0.0, 9,
                            metadata=MetadataState.MISSING)
    await index.apply("bucket a", [IndexedRecording(ROW, "etag1", 1.5),
                                   IndexedRecording(missing)])
    await index.apply("bucket b", [IndexedRecording(ROW, "etag2", None)])
    await index.close()

    again = RecordingsIndex(tmp_path / "index.sqlite3")
    entries = await again.load("bucket a")
    assert entries[ROW.name].same_as(IndexedRecording(ROW, "etag1", 1.5))
    assert entries[ROW.name].row.extra == ROW.extra
    assert entries[missing.name].row.metadata is MetadataState.MISSING
    await again.apply("bucket a", remove=[ROW.name])
    assert set(await again.load("bucket a")) == {missing.name}
    assert (await again.load("bucket b"))[ROW.name].meta_etag == "etag2"
    await again.close()


async def test_a_broken_index_file_is_started_over(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    path.write_bytes(b"not a database at all" * 100)
    index = RecordingsIndex(path)
    assert await index.load("bucket a") == {}
    await index.apply("bucket a", [IndexedRecording(ROW, "etag1")])
    assert set(await index.load("bucket a")) == {ROW.name}
    await index.close()
