"""The started-recordings file a console and a listener of one machine share."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from recconsole.core.recording_limits import StartedRecording
from recconsole.server.registry import FileStartedRecordings

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


async def test_recordings_started_together_in_a_new_file_are_all_kept(tmp_path: Path) -> None:
    """Rooms started together from the Rooms page, the first time: every start is kept,
    none refused with "database is locked" (seen in CI; without calls taking turns this
    test failed two runs in three)."""
    for attempt in range(30):
        started = FileStartedRecordings(tmp_path / f"started-{attempt}.sqlite3")
        recordings = [StartedRecording(f"EG_{i}", f"room-{i}", 1.0, stop_at=60.0)
                      for i in range(8)]
        await asyncio.gather(*(started.add(r) for r in recordings))
        assert [await started.get(r.egress_id) for r in recordings] == recordings
        assert sorted(r.egress_id for r in await started.limited()) == sorted(
            r.egress_id for r in recordings)
