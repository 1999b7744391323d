"""Every room of the real LiveKit server at a glance, and acting on rooms and participants.

The test server runs no egress service; the recording actions use the egress
stand-in (named in those tests), everything else is the real server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from livekit import api, rtc

from recconsole.core.errors import RoomNotFound
from recconsole.core.livekit_server import LiveKitServer
from recconsole.core.recorder import Recorder
from recconsole.core.recording_status import RecordingStatus
from recconsole.core.rooms import Counts, RoomControl, RoomsOverview
from recconsole_devtools.bot import BotOptions, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.helpers.egress_stand_in import StandInEgressServer
from tests.helpers.rooms import TEST_APP, unique_room
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

SMALL = BotOptions(width=64, height=64, fps=5)


@pytest_asyncio.fixture
async def server(livekit_server: StackConfig) -> AsyncIterator[LiveKitServer]:
    async with LiveKitServer(livekit_server.livekit_url, API_KEY, API_SECRET,
                             app_name=TEST_APP) as server:
        yield server


@pytest_asyncio.fixture
async def stand_in(livekit_server: StackConfig) -> AsyncIterator[StandInEgressServer]:
    async with StandInEgressServer(livekit_server.livekit_url, API_KEY, API_SECRET,
                                   app_name=TEST_APP) as server:
        yield server


async def test_snapshot_shows_each_room_its_creator_and_that_egress_cannot_be_asked(
    server: LiveKitServer,
) -> None:
    ours, theirs = unique_room("ours"), unique_room("theirs")
    await server.ensure_room(ours)
    await server.lkapi.room.create_room(api.CreateRoomRequest(
        name=theirs, metadata=json.dumps({"createdBy": "another-app"})))
    snapshot = await RoomsOverview(server).snapshot()
    rooms = {room.name: room for room in snapshot.rooms}
    assert rooms[ours].created_by == TEST_APP
    assert rooms[ours].metadata_status is RecordingStatus.STOPPED
    assert rooms[theirs].created_by == "another-app"
    assert rooms[theirs].metadata_status is None
    assert rooms[ours].created_at > 1.7e9
    # The test server has no egress service: the snapshot says so and claims no disagreement.
    assert snapshot.egress_known is False
    assert "no egress service" in snapshot.egress_note
    await server.set_recording_status(ours, RecordingStatus.STARTED)
    again = {r.name: r for r in (await RoomsOverview(server).snapshot()).rooms}
    assert again[ours].disagreement(egress_known=False) == ""


async def test_counts_say_who_is_in_and_who_publishes_what(
    server: LiveKitServer, livekit_server: StackConfig,
) -> None:
    room = unique_room("counts")
    bots = await start_bots(livekit_server.livekit_url, API_KEY, API_SECRET, room, 2, SMALL)
    listener = await start_bots(livekit_server.livekit_url, API_KEY, API_SECRET, room, 1,
                                BotOptions(video=False, audio=False), prefix="listener")
    try:
        counts = await eventually(lambda: _counted(server, room), (3, 2, 2))
        assert counts == (3, 2, 2)
        found = await RoomsOverview(server).counts(room)
        assert sorted(found.tracks["bot-1"]) == ["camera", "microphone"]
        assert found.tracks["listener-1"] == []
        never = unique_room("never")
        several = await RoomsOverview(server).counts_of([room, never])
        assert several == {room: found, never: Counts(0, 0, {})}  # the server says "nobody"
    finally:
        await asyncio.gather(*(bot.stop() for bot in bots + listener))


async def _counted(server: LiveKitServer, room: str) -> tuple[int, int, int]:
    counts = await RoomsOverview(server).counts(room)
    return counts.participants, counts.publishers, len(
        [who for who, tracks in counts.tracks.items() if "camera" in tracks])


async def test_muting_a_bots_microphone_and_camera_reaches_the_bot(
    server: LiveKitServer, livekit_server: StackConfig,
) -> None:
    room = unique_room("mute")
    (bot,) = await start_bots(livekit_server.livekit_url, API_KEY, API_SECRET, room, 1, SMALL)
    muted: set[str] = set()  # what the bot was told (the SDK may say it twice)
    bot.room.on("track_muted", lambda participant, publication: muted.add(
        f"{participant.identity}:{rtc.TrackSource.Name(publication.source)}"))
    control = RoomControl(server, Recorder(server))
    try:
        await eventually(lambda: _published(server, room), 2)
        assert await control.mute(room, "bot-1", "microphone") == 1
        await eventually(lambda: muted, {"bot-1:SOURCE_MICROPHONE"})
        assert await control.mute(room, "bot-1", "camera") == 1
        await eventually(lambda: muted, {"bot-1:SOURCE_MICROPHONE", "bot-1:SOURCE_CAMERA"})
        publications = bot.room.local_participant.track_publications.values()
        assert all(publication.muted for publication in publications)
        with pytest.raises(RoomNotFound, match="no unmuted microphone"):
            await control.mute(room, "bot-1", "microphone")
        with pytest.raises(RoomNotFound, match="not in the room"):
            await control.mute(room, "nobody", "camera")
    finally:
        await bot.stop()


async def _published(server: LiveKitServer, room: str) -> int:
    people = await server.list_participants(room)
    return sum(len(p.tracks) for p in people)


async def test_removing_a_bot_disconnects_it_with_that_reason(
    server: LiveKitServer, livekit_server: StackConfig,
) -> None:
    room = unique_room("remove")
    (bot,) = await start_bots(livekit_server.livekit_url, API_KEY, API_SECRET, room, 1, SMALL)
    gone: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    bot.room.on("disconnected", lambda reason: gone.done() or gone.set_result(
        rtc.DisconnectReason.Name(reason)))
    try:
        await RoomControl(server, Recorder(server)).remove(room, "bot-1")
        assert await asyncio.wait_for(gone, 10) == "PARTICIPANT_REMOVED"
        assert [p.identity for p in await server.list_participants(room)] == []
    finally:
        await bot.stop()


async def test_closing_rooms_reports_each_and_disconnects_who_was_in(
    server: LiveKitServer, livekit_server: StackConfig,
) -> None:
    first, second, missing = unique_room("close"), unique_room("close"), unique_room("none")
    await server.ensure_room(first)
    (bot,) = await start_bots(livekit_server.livekit_url, API_KEY, API_SECRET, second, 1, SMALL)
    gone: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    bot.room.on("disconnected", lambda reason: gone.done() or gone.set_result(
        rtc.DisconnectReason.Name(reason)))
    try:
        results = await RoomControl(server, Recorder(server)).close_many([first, second, missing])
        assert results[first] is None
        assert results[second] is None
        assert isinstance(results[missing], RoomNotFound)
        assert await asyncio.wait_for(gone, 10) == "ROOM_DELETED"
        names = {room.name for room in (await RoomsOverview(server).snapshot()).rooms}
        assert not names & {first, second}
    finally:
        await bot.stop()


async def test_start_and_stop_two_rooms_with_the_egress_stand_in(
    stand_in: StandInEgressServer,
) -> None:
    rooms = [unique_room("many"), unique_room("many")]
    for room in rooms:
        await stand_in.ensure_room(room)
    recorder = Recorder(stand_in, poll_interval=0.05)
    control = RoomControl(stand_in, recorder)
    overview = RoomsOverview(stand_in)
    try:
        assert await control.start_many(rooms) == dict.fromkeys(rooms)
        again = await control.start_many(rooms[:1])
        assert "already being recorded" in str(again[rooms[0]])
        snapshot = await overview.snapshot()
        assert snapshot.egress_known
        shown = {r.name: r for r in snapshot.rooms if r.name in rooms}
        assert {r.egress_status for r in shown.values()} <= {RecordingStatus.STARTING,
                                                             RecordingStatus.STARTED}
        assert all(r.recording_since for r in shown.values())
        assert all(r.disagreement(True) == "" for r in shown.values())
        assert await control.stop_many(rooms) == dict.fromkeys(rooms)
        assert len(stand_in.stops) == 2
    finally:
        await recorder.aclose()


async def test_a_status_left_saying_started_is_shown_and_fixed_with_the_egress_stand_in(
    stand_in: StandInEgressServer,
) -> None:
    room = unique_room("stale")
    await stand_in.ensure_room(room)
    await stand_in.set_recording_status(room, RecordingStatus.STARTED)
    overview = RoomsOverview(stand_in)
    shown = next(r for r in (await overview.snapshot()).rooms if r.name == room)
    assert shown.disagreement(True) == (
        "The room's metadata says STARTED, but no recording is running.")
    control = RoomControl(stand_in, Recorder(stand_in))
    assert await control.fix_many([room]) == {room: None}
    fixed = next(r for r in (await overview.snapshot()).rooms if r.name == room)
    assert fixed.metadata_status is RecordingStatus.STOPPED
    assert fixed.disagreement(True) == ""
