"""Rooms, room metadata, deletion messages and errors against the real LiveKit server."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from livekit import rtc

from recconsole.core.errors import CredentialsRejected, EgressUnavailable, ServerUnreachable
from recconsole.core.livekit_server import LiveKitServer, parse_metadata, ws_url
from recconsole.core.recorder import Recorder
from recconsole.core.recording_status import RecordingStatus
from recconsole.core.tokens import mint_token
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.helpers.rooms import unique_room

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

APP = "recconsole-tests"


@pytest_asyncio.fixture
async def server(livekit_server: StackConfig) -> AsyncIterator[LiveKitServer]:
    async with LiveKitServer(livekit_server.livekit_url, API_KEY, API_SECRET, app_name=APP) as s:
        yield s


async def _join(cfg: StackConfig, room_name: str, identity: str) -> rtc.Room:
    room = rtc.Room()
    token = mint_token(API_KEY, API_SECRET, room_name, identity)
    await room.connect(ws_url(cfg.livekit_url), token)
    return room


async def test_room_is_created_once_with_the_app_metadata(server: LiveKitServer) -> None:
    name = unique_room("create")
    first = await server.ensure_room(name)
    assert parse_metadata(first.metadata) == {"createdBy": APP, "recordingStatus": "STOPPED"}
    assert server.created_by_app(first)
    await server.update_metadata(name, {"note": "kept"})
    again = await server.ensure_room(name)
    assert again.sid == first.sid
    assert parse_metadata(again.metadata)["note"] == "kept"


async def test_status_change_keeps_other_keys_and_reaches_participants(
    server: LiveKitServer, livekit_server: StackConfig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = unique_room("status")
    await server.ensure_room(name)
    await server.update_metadata(name, {"topic": "weekly"})
    participant = await _join(livekit_server, name, "watcher")
    changed: asyncio.Queue[str] = asyncio.Queue()
    participant.on("room_metadata_changed", lambda _old, new: changed.put_nowait(new))
    try:
        await server.set_recording_status(name, RecordingStatus.STARTED)
        seen = parse_metadata(await asyncio.wait_for(changed.get(), 15))
        await server.set_recording_status(name, RecordingStatus.FAILED, "disk full")
        failed = parse_metadata(await asyncio.wait_for(changed.get(), 15))
        # Saying it again changes nothing and is not sent (the server is asked only for
        # the room); the next real change is.
        updates: list[Any] = []
        update = server.lkapi.room.update_room_metadata
        monkeypatch.setattr(server.lkapi.room, "update_room_metadata",
                            lambda request: updates.append(request) or update(request))
        await server.set_recording_status(name, RecordingStatus.FAILED, "disk full")
        assert updates == []
        await server.set_recording_status(name, RecordingStatus.STOPPED)
        assert len(updates) == 1
        stopped = parse_metadata(await asyncio.wait_for(changed.get(), 15))
    finally:
        await participant.disconnect()
    assert seen == {"createdBy": APP, "recordingStatus": "STARTED", "topic": "weekly"}
    assert failed["recordingStatus"] == "FAILED"
    assert failed["recordingError"] == "disk full"
    assert stopped["recordingStatus"] == "STOPPED"
    assert "recordingError" not in stopped
    assert await server.recording_status(name) is RecordingStatus.STOPPED


async def test_deletion_message_reaches_every_participant(
    server: LiveKitServer, livekit_server: StackConfig
) -> None:
    name = unique_room("deleted")
    await server.ensure_room(name)
    people = [await _join(livekit_server, name, f"p{i}") for i in range(2)]
    received: asyncio.Queue[tuple[str, str | None, bytes]] = asyncio.Queue()
    for person in people:
        person.on("data_received", lambda packet, who=person.local_participant.identity:
                  received.put_nowait((who, packet.topic, packet.data)))
    got: dict[str, tuple[str, str | None, bytes]] = {}
    try:
        # A participant whose data channel has not opened yet misses a message, and the
        # SDK tells no one when it opens: send again until each has one (at most 15).
        for _attempt in range(15):
            assert await server.send_recording_deleted(name, f"{name}-RM_x-1.mp4")
            with contextlib.suppress(TimeoutError):
                while len(got) < len(people):
                    item = await asyncio.wait_for(received.get(), 1)
                    got[item[0]] = item
            if len(got) == len(people):
                break
    finally:
        for person in people:
            await person.disconnect()
    assert sorted(got) == ["p0", "p1"]
    got_list = list(got.values())
    for _, topic, data in got_list:
        assert topic == "RECORDING_DELETED"
        assert json.loads(data.decode()) == {"recordingName": f"{name}-RM_x-1.mp4"}


async def test_deletion_message_to_a_room_that_is_gone_is_skipped(server: LiveKitServer) -> None:
    assert await server.send_recording_deleted(unique_room("gone"), "x.mp4") is False


async def test_wrong_secret_reads_as_credentials_rejected(livekit_server: StackConfig) -> None:
    async with LiveKitServer(livekit_server.livekit_url, API_KEY, "wrong-secret-wrong-secret-wrong",
                             app_name=APP) as bad:
        with pytest.raises(CredentialsRejected, match="credentials were rejected by the server"):
            await bad.ensure_room(unique_room("nope"))


async def test_unreachable_server_names_the_url() -> None:
    async with LiveKitServer("http://127.0.0.1:9", API_KEY, API_SECRET, app_name=APP) as down:
        with pytest.raises(ServerUnreachable, match=r"http://127\.0\.0\.1:9"):
            await down.ensure_room("any")


async def test_start_without_egress_service_says_so_without_hanging(
    server: LiveKitServer,
) -> None:
    name = unique_room("noegress")
    await server.ensure_room(name)
    recorder = Recorder(server)
    # The server alone answers StartEgress only after ~24 s; the console must not wait that long.
    async with asyncio.timeout(10):
        with pytest.raises(EgressUnavailable, match="no egress service"):
            await recorder.start(name)
    assert await server.recording_status(name) is RecordingStatus.STOPPED
