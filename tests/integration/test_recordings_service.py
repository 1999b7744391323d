"""Deleting recordings (and telling the room) and rebuilding metadata, on MinIO and LiveKit.

Egress records come from StandInEgressServer: a recording in progress and a finished
egress whose metadata is rebuilt need egress records of exactly this shape, which a real
egress takes a recording to produce (tests/e2e records for real). Tests that rely on
those records say "stand_in" in their names; rooms and messages are the real server's.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from livekit import api, rtc

from recconsole.core.errors import RecordingInProgress
from recconsole.core.livekit_server import ws_url
from recconsole.core.recording_info import RecordingInfo, RecordingNameError
from recconsole.core.tokens import mint_token
from recconsole.storage.base import ObjectNotFound
from recconsole.storage.catalog import RecordingsCatalog
from recconsole.storage.recordings import DownloadCancelled, RecordingsService, download
from recconsole.storage.s3 import S3Store
from recconsole_devtools.devstack import (
    API_KEY,
    API_SECRET,
    MINIO_PASSWORD,
    MINIO_USER,
    S3_BUCKET,
    StackConfig,
)
from tests.helpers.egress_stand_in import StandInEgressServer
from tests.helpers.rooms import unique_room

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


@pytest_asyncio.fixture
async def service(
    minio_server: StackConfig, livekit_server: StackConfig
) -> AsyncIterator[RecordingsService]:
    store = S3Store(minio_server.s3_endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1", S3_BUCKET)
    server = StandInEgressServer(livekit_server.livekit_url, API_KEY, API_SECRET, app_name="t")
    yield RecordingsService(RecordingsCatalog(store, f"svc-{uuid.uuid4().hex[:8]}/"), server)
    await server.aclose()
    await store.aclose()


async def _recording(service: RecordingsService, room: str, with_metadata: bool = True) -> str:
    name = f"{room}-RM_{uuid.uuid4().hex[:6]}-2024-06-13T101010.mp4"
    catalog = service.catalog
    await catalog.store.write_bytes(catalog.recording_key(name), b"mp4" * 100, "video/mp4")
    if with_metadata:
        await catalog.save_metadata(RecordingInfo("EG_x", name, room, "RM_x", 1, 1.0, 300))
    return name


def _ended_egress(room: str, name: str, status: int = api.EgressStatus.EGRESS_COMPLETE
                  ) -> api.EgressInfo:
    egress = api.EgressInfo(egress_id=f"EG_{uuid.uuid4().hex[:6]}", room_name=room,
                            room_id="RM_real", status=status, started_at=1_700_000_000_000_000_000)
    egress.file_results.add(filename=f"recordings/{name}", duration=3_000_000_000, size=300)
    return egress


async def test_delete_removes_file_and_metadata_and_tells_the_room(
    service: RecordingsService, livekit_server: StackConfig
) -> None:
    room_name = unique_room("del")
    await service.server.ensure_room(room_name)
    name = await _recording(service, room_name)
    participant = rtc.Room()
    told: asyncio.Queue[rtc.DataPacket] = asyncio.Queue()
    participant.on("data_received", told.put_nowait)
    await participant.connect(ws_url(livekit_server.livekit_url),
                              mint_token(API_KEY, API_SECRET, room_name, "viewer"))
    try:
        assert await service.delete(name) is True
        packet = await asyncio.wait_for(told.get(), 15)
    finally:
        await participant.disconnect()
    assert packet.topic == "RECORDING_DELETED"
    assert json.loads(packet.data) == {"recordingName": name}
    catalog = service.catalog
    assert not await catalog.store.exists(catalog.recording_key(name))
    assert not await catalog.store.exists(catalog.metadata_key(name))


async def test_recording_in_progress_cannot_be_deleted_stand_in(service: RecordingsService) -> None:
    room_name = unique_room("busy")
    name = await _recording(service, room_name)
    server = service.server
    assert isinstance(server, StandInEgressServer)
    busy = _ended_egress(room_name, name, api.EgressStatus.EGRESS_ACTIVE)
    server.egresses[busy.egress_id] = busy
    with pytest.raises(RecordingInProgress, match="still being recorded"):
        await service.delete(name)
    assert await service.catalog.store.exists(service.catalog.recording_key(name))


async def test_hls_recording_in_progress_cannot_be_deleted_stand_in(
    service: RecordingsService,
) -> None:
    """Egress uploads an HLS playlist while it records: it is listed before it ends."""
    room_name = unique_room("busy-hls")
    name = f"{room_name}-RM_{uuid.uuid4().hex[:6]}-2024-06-13T101010.m3u8"
    catalog = service.catalog
    await catalog.store.write_bytes(catalog.recording_key(name), b"#EXTM3U\n", "audio/mpegurl")
    server = service.server
    assert isinstance(server, StandInEgressServer)
    busy = api.EgressInfo(egress_id=f"EG_{uuid.uuid4().hex[:6]}", room_name=room_name,
                          status=api.EgressStatus.EGRESS_ACTIVE)
    busy.room_composite.room_name = room_name
    busy.room_composite.segment_outputs.add(playlist_name=f"recordings/{name}")
    server.egresses[busy.egress_id] = busy
    with pytest.raises(RecordingInProgress, match="still being recorded"):
        await service.delete(name)
    assert await catalog.store.exists(catalog.recording_key(name))
    busy.status = api.EgressStatus.EGRESS_COMPLETE  # once it ends, it goes
    await service.delete(name)
    assert not await catalog.store.exists(catalog.recording_key(name))


async def test_several_deletions_report_per_row(service: RecordingsService) -> None:
    room_name = unique_room("many")
    kept_going = await _recording(service, room_name)
    results = await service.delete_many([kept_going, "../escape.mp4", f"{room_name}-RM_no-1.mp4"])
    assert results[kept_going] is None
    assert isinstance(results["../escape.mp4"], RecordingNameError)
    assert isinstance(results[f"{room_name}-RM_no-1.mp4"], ObjectNotFound)


async def test_missing_metadata_is_rebuilt_from_the_egress_record_stand_in(
    service: RecordingsService,
) -> None:
    room_name = unique_room("rebuild")
    name = await _recording(service, room_name, with_metadata=False)
    server = service.server
    assert isinstance(server, StandInEgressServer)
    ended = _ended_egress(room_name, name)
    server.egresses[ended.egress_id] = ended
    info = await service.rebuild_metadata(name)
    saved = json.loads(await service.catalog.store.read_bytes(service.catalog.metadata_key(name)))
    assert saved == {"id": ended.egress_id, "name": name, "roomName": room_name,
                     "roomId": "RM_real", "startedAt": 1_700_000_000_000, "duration": 3.0,
                     "size": 300}
    assert info.id == ended.egress_id


async def test_metadata_left_behind_by_a_vanished_file_is_deleted(
    service: RecordingsService,
) -> None:
    name = await _recording(service, unique_room("orphan"))
    catalog = service.catalog
    await catalog.store.delete(catalog.recording_key(name))
    assert await service.delete(name) is False  # the room does not exist: nobody to tell
    assert not await catalog.store.exists(catalog.metadata_key(name))


async def test_download_saves_the_file_and_resumes_after_a_cancel(
    service: RecordingsService, tmp_path: Path
) -> None:
    catalog = service.catalog
    name = f"{unique_room('dl')}-RM_x-1.mp4"
    payload = os.urandom(3 * 256 * 1024 + 123)  # several chunks
    await catalog.store.write_bytes(catalog.recording_key(name), payload, "video/mp4")
    target = tmp_path / name
    seen: list[tuple[int, int]] = []
    with pytest.raises(DownloadCancelled, match="stopped at"):
        await download(catalog, name, target, lambda d, t: seen.append((d, t)),
                       cancelled=lambda: len(seen) >= 2)
    partial = tmp_path / (name + ".part")
    kept = partial.stat().st_size
    assert 0 < kept < len(payload)
    assert not target.exists()
    seen.clear()
    assert await download(catalog, name, target, lambda d, t: seen.append((d, t))) == target
    assert seen[0] == (kept, len(payload))  # resumed, not restarted
    assert seen[-1] == (len(payload), len(payload))
    assert target.read_bytes() == payload
    assert not partial.exists()
