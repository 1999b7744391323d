"""Joining a real room through RoomSession: participants, video frames, messages, errors."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import numpy as np
import pytest
from livekit import api, rtc

from recconsole.core.errors import CredentialsRejected, ServerUnreachable
from recconsole.core.livekit_server import LiveKitServer
from recconsole.core.tokens import mint_token
from recconsole.realtime.session import RoomSession, SessionEvents, SessionState
from recconsole_devtools.bot import BotOptions, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.helpers.rooms import TEST_APP, make_leave, unique_room

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


class _Log:
    """One queue per kind of report, so waiting for one kind never drops another."""

    def __init__(self) -> None:
        self.queues: dict[str, asyncio.Queue[Any]] = defaultdict(asyncio.Queue)

    def put_nowait(self, item: tuple[str, Any]) -> None:
        kind, value = item
        self.queues[kind].put_nowait(value)


class Recorded(SessionEvents):
    """Everything a session reports, by kind, frames counted apart."""

    def __init__(self) -> None:
        self.log = _Log()
        self.frames: dict[str, list[rtc.VideoFrame]] = {}
        self.states: list[tuple[SessionState, str]] = []

    async def next(self, kind: str, within: float = 20) -> Any:
        return await asyncio.wait_for(self.log.queues[kind].get(), within)

    def state_changed(self, state: SessionState, reason: str) -> None:
        self.states.append((state, reason))
        self.log.put_nowait(("state", (state, reason)))

    def participant_joined(self, identity: str, name: str) -> None:
        self.log.put_nowait(("joined", (identity, name)))

    def participant_left(self, identity: str) -> None:
        self.log.put_nowait(("left", identity))

    def video_added(self, track_sid: str, identity: str) -> None:
        self.frames[track_sid] = []
        self.log.put_nowait(("video", (track_sid, identity)))

    def video_removed(self, track_sid: str, identity: str) -> None:
        self.log.put_nowait(("video gone", (track_sid, identity)))

    def video_frame(self, track_sid: str, frame: rtc.VideoFrame) -> None:
        frames = self.frames[track_sid]
        frames.append(frame)
        if len(frames) == 5:
            self.log.put_nowait(("5 frames", track_sid))

    def metadata_changed(self, metadata: dict[str, Any]) -> None:
        self.log.put_nowait(("metadata", metadata))

    def data_received(self, topic: str, payload: bytes, sender: str) -> None:
        self.log.put_nowait(("data", (topic, payload)))


def _observer(cfg: StackConfig, room: str) -> str:
    return mint_token(API_KEY, API_SECRET, room, "console", "Console", observer=True)


async def test_bots_video_arrives_per_track_and_leaving_removes_it(
    livekit_server: StackConfig,
) -> None:
    room = unique_room("session")
    bots = await start_bots(livekit_server.livekit_url, API_KEY, API_SECRET, room, 2,
                            BotOptions(width=320, height=180, fps=15, audio=False))
    seen = Recorded()
    session = RoomSession(livekit_server.livekit_url, _observer(livekit_server, room), seen)
    try:
        await session.connect()
        assert session.state is SessionState.CONNECTED
        tracks = dict([await seen.next("video"), await seen.next("video")])
        assert sorted(tracks.values()) == ["bot-1", "bot-2"]
        for _ in tracks:
            await seen.next("5 frames")
        assert sorted(session.participants) == ["bot-1", "bot-2"]
        await make_leave(bots[0], livekit_server.livekit_url, room)
        gone_sid, gone_identity = await seen.next("video gone")
        assert (tracks[gone_sid], gone_identity) == ("bot-1", "bot-1")
        assert await seen.next("left") == "bot-1"
    finally:
        await session.disconnect()
        await asyncio.gather(*(bot.stop() for bot in bots[1:]))
    for frames in seen.frames.values():
        if (frames[-1].width, frames[-1].height) == (8, 8):
            frames = frames[:-1]  # libwebrtc's black 8x8 frame as a track ends
        assert {(f.width, f.height) for f in frames} == {(320, 180)}
        first, last = (np.frombuffer(f.data, np.uint8)[: 320 * 180] for f in (frames[0],
                                                                            frames[-1]))
        assert np.mean(np.abs(first.astype(int) - last.astype(int))) > 5
    assert seen.states[0][0] is SessionState.CONNECTING
    assert seen.states[-1][0] is SessionState.DISCONNECTED


async def test_metadata_and_data_messages_reach_the_session(livekit_server: StackConfig) -> None:
    room = unique_room("msgs")
    seen = Recorded()
    async with LiveKitServer(livekit_server.livekit_url, API_KEY, API_SECRET,
                             app_name=TEST_APP) as server:
        await server.ensure_room(room)
        session = RoomSession(livekit_server.livekit_url, _observer(livekit_server, room), seen)
        await session.connect()
        try:
            assert (await seen.next("metadata"))["recordingStatus"] == "STOPPED"
            await server.update_metadata(room, {"recordingStatus": "STARTED"})
            assert (await seen.next("metadata"))["recordingStatus"] == "STARTED"
            await server.send_recording_deleted(room, "x.mp4")
            assert await seen.next("data") == ("RECORDING_DELETED", b'{"recordingName": "x.mp4"}')
        finally:
            await session.disconnect()


async def test_rejected_token_says_credentials_without_the_token(
    livekit_server: StackConfig,
) -> None:
    seen = Recorded()
    token = mint_token(API_KEY, "wrong-secret-wrong-secret-wrong-x", "r", "console")
    session = RoomSession(livekit_server.livekit_url, token, seen)
    with pytest.raises(CredentialsRejected, match="credentials rejected by the server") as err:
        await session.connect()
    assert token not in str(err.value)
    assert seen.states[-1] == (SessionState.DISCONNECTED, str(err.value))


async def test_unreachable_server_fails_with_the_url() -> None:
    seen = Recorded()
    session = RoomSession("http://127.0.0.1:9", mint_token(API_KEY, API_SECRET, "r", "c"), seen)
    with pytest.raises(ServerUnreachable, match=r"ws://127\.0\.0\.1:9"):
        await session.connect(timeout=10)
    assert session.state is SessionState.DISCONNECTED


async def test_server_removing_the_console_is_reported_with_a_reason(
    livekit_server: StackConfig,
) -> None:
    room = unique_room("kicked")
    seen = Recorded()
    session = RoomSession(livekit_server.livekit_url, _observer(livekit_server, room), seen)
    await session.connect()
    async with api.LiveKitAPI(livekit_server.livekit_url, API_KEY, API_SECRET) as lk:
        await lk.room.delete_room(api.DeleteRoomRequest(room=room))
    state, reason = await seen.next("state")
    while state is not SessionState.DISCONNECTED:
        state, reason = await seen.next("state")
    await session.disconnect()
    assert reason == "ROOM_DELETED"
