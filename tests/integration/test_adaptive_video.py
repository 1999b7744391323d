"""Adaptive video against a real LiveKit server: the layer a tile's size asks for is
the one that arrives, and a hidden video stops arriving until it is shown again."""

from __future__ import annotations

import asyncio

import pytest
from livekit import rtc

from recconsole.core.tokens import mint_token
from recconsole.realtime.session import RoomSession, SessionEvents
from recconsole_devtools.bot import BotOptions, PublisherBot, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.helpers.rooms import unique_room
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

LOW, MEDIUM, HIGH = (rtc.VideoQuality.VIDEO_QUALITY_LOW, rtc.VideoQuality.VIDEO_QUALITY_MEDIUM,
                     rtc.VideoQuality.VIDEO_QUALITY_HIGH)


class Shown(SessionEvents):
    """A viewer that says which videos it shows; keeps each video's frame count and size."""

    adaptive_video = True

    def __init__(self) -> None:
        self.videos: asyncio.Queue[str] = asyncio.Queue()
        self.removed: list[str] = []
        self.frames: dict[str, int] = {}
        self.size: dict[str, tuple[int, int]] = {}
        self.arrived = asyncio.Event()

    def video_added(self, track_sid: str, identity: str) -> None:
        self.frames[track_sid] = 0
        self.videos.put_nowait(track_sid)

    def video_removed(self, track_sid: str, identity: str) -> None:
        self.removed.append(track_sid)

    def video_frame(self, track_sid: str, frame: rtc.VideoFrame) -> None:
        self.frames[track_sid] += 1
        self.size[track_sid] = (frame.width, frame.height)
        self.arrived.set()

    async def until(self, done: object, within: float = 30) -> None:
        """Wait for frames until ``done()`` holds."""
        async with asyncio.timeout(within):
            while not done():  # type: ignore[operator]
                self.arrived.clear()
                await self.arrived.wait()


async def _join(server: StackConfig, room: str, bots: list[PublisherBot]
                ) -> tuple[RoomSession, Shown]:
    seen = Shown()
    token = mint_token(API_KEY, API_SECRET, room, "console", "Console", observer=True)
    session = RoomSession(server.livekit_url, token, seen)
    await session.connect()
    return session, seen


async def test_a_tile_receives_the_simulcast_layer_that_fits_its_size(
    livekit_server: StackConfig,
) -> None:
    room = unique_room("adaptive")
    bots = await start_bots(livekit_server.livekit_url, API_KEY, API_SECRET, room, 1,
                            BotOptions(width=960, height=540, fps=10, audio=False,
                                       simulcast=True))
    session, seen = await _join(livekit_server, room, bots)
    try:
        sid = await asyncio.wait_for(seen.videos.get(), 20)
        assert not session.receiving(sid)  # announced, but nobody shows it yet
        assert seen.frames[sid] == 0

        session.show_video(sid, 150)  # a small tile: the 320x180 layer is enough
        assert session.requested_quality(sid) == LOW
        await seen.until(lambda: seen.size.get(sid) == (320, 180))

        session.show_video(sid, 540)  # drawn at full height: the full size
        assert session.requested_quality(sid) == HIGH
        await seen.until(lambda: seen.size.get(sid) == (960, 540))

        session.show_video(sid, 300)  # in between: the 640x360 layer
        assert session.requested_quality(sid) == MEDIUM
        await seen.until(lambda: seen.size.get(sid) == (640, 360))
        assert seen.removed == []
    finally:
        await session.disconnect()
        await asyncio.gather(*(bot.stop() for bot in bots))


async def test_a_hidden_video_stops_arriving_and_resumes_when_shown(
    livekit_server: StackConfig,
) -> None:
    room = unique_room("adaptive")
    bots = await start_bots(livekit_server.livekit_url, API_KEY, API_SECRET, room, 1,
                            BotOptions(width=320, height=180, fps=15, audio=False))
    session, seen = await _join(livekit_server, room, bots)
    try:
        sid = await asyncio.wait_for(seen.videos.get(), 20)
        session.show_video(sid, 180)
        await seen.until(lambda: seen.frames[sid] >= 5)
        publication = session.room.remote_participants["bot-1"].track_publications[sid]
        assert publication.subscribed

        session.hide_video(sid)
        assert not session.receiving(sid)
        await eventually(lambda: publication.subscribed, False, within=20)
        stopped_at, sent = seen.frames[sid], bots[0].frames_sent
        await eventually(lambda: bots[0].frames_sent >= sent + 30, True, within=20)
        assert seen.frames[sid] == stopped_at  # 30 frames sent, none received

        session.show_video(sid, 180)
        await seen.until(lambda: seen.frames[sid] >= stopped_at + 5)
        assert publication.subscribed
        assert seen.removed == []  # paused, never removed: its tile stayed
        assert seen.videos.empty()  # nor announced twice
    finally:
        await session.disconnect()
        await asyncio.gather(*(bot.stop() for bot in bots))
