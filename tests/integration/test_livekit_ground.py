"""The real LiveKit server: tokens, joining with the rtc SDK, bots' video, webhooks."""

from __future__ import annotations

import asyncio
import uuid

import numpy as np
import pytest
from livekit import api, rtc

from recconsole.core.livekit_server import ws_url
from recconsole.core.tokens import mint_token
from recconsole_devtools.bot import BotOptions, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.helpers.webhook_sink import WebhookRecorder

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _room_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_minted_token_joins_a_room_with_the_rtc_sdk(livekit_server: StackConfig) -> None:
    room_name = _room_name("join")
    room = rtc.Room()
    token = mint_token(API_KEY, API_SECRET, room_name, "moderator", "The Moderator")
    await room.connect(ws_url(livekit_server.livekit_url), token)
    try:
        assert room.connection_state == rtc.ConnectionState.CONN_CONNECTED
        assert room.name == room_name
        async with api.LiveKitAPI(livekit_server.livekit_url, API_KEY, API_SECRET) as lkapi:
            listing = await lkapi.room.list_participants(
                api.ListParticipantsRequest(room=room_name)
            )
        assert [(p.identity, p.name) for p in listing.participants] == [
            ("moderator", "The Moderator")
        ]
    finally:
        await room.disconnect()


async def test_token_signed_with_another_secret_is_refused(livekit_server: StackConfig) -> None:
    room = rtc.Room()
    token = mint_token(API_KEY, "not-the-secret-not-the-secret-xx", _room_name("bad"), "intruder")
    with pytest.raises(rtc.ConnectError):
        await room.connect(ws_url(livekit_server.livekit_url), token)


async def test_bot_video_frames_arrive_with_its_size_and_changing_pixels(
    livekit_server: StackConfig,
) -> None:
    room_name = _room_name("frames")
    bots = await start_bots(
        livekit_server.livekit_url, API_KEY, API_SECRET, room_name, 1,
        BotOptions(width=320, height=180, fps=15, audio=False),
    )
    viewer = rtc.Room()
    frames: list[rtc.VideoFrame] = []
    enough = asyncio.Event()

    async def collect(track: rtc.Track) -> None:
        async for event in rtc.VideoStream(track, format=rtc.VideoBufferType.I420):
            frames.append(event.frame)
            if len(frames) >= 10:
                enough.set()
                return

    tasks: list[asyncio.Task[None]] = []

    @viewer.on("track_subscribed")
    def _on_track(track: rtc.Track, *_: object) -> None:
        if track.kind == rtc.TrackKind.KIND_VIDEO:
            tasks.append(asyncio.create_task(collect(track)))

    try:
        await viewer.connect(
            ws_url(livekit_server.livekit_url),
            mint_token(API_KEY, API_SECRET, room_name, "viewer", observer=True),
        )
        await asyncio.wait_for(enough.wait(), timeout=30)
    finally:
        await viewer.disconnect()
        await asyncio.gather(*(bot.stop() for bot in bots))
        for task in tasks:
            task.cancel()

    assert {(f.width, f.height) for f in frames} == {(320, 180)}
    lumas = [np.frombuffer(f.data, np.uint8)[: 320 * 180] for f in (frames[0], frames[-1])]
    # Encoded and decoded, so not bit-exact: the pattern has moved by many pixels.
    assert np.mean(np.abs(lumas[0].astype(int) - lumas[1].astype(int))) > 5


async def test_livekit_server_sends_signed_webhooks_to_a_listener(
    livekit_server: StackConfig, livekit_webhooks: WebhookRecorder
) -> None:
    room_name = _room_name("hooks")
    room = rtc.Room()
    await room.connect(
        ws_url(livekit_server.livekit_url), mint_token(API_KEY, API_SECRET, room_name, "guest")
    )
    try:
        joined = await asyncio.to_thread(
            livekit_webhooks.wait_for,
            lambda e: e.event == "participant_joined" and e.room.name == room_name,
        )
    finally:
        await room.disconnect()
    assert joined.participant.identity == "guest"
    assert livekit_webhooks.rejected == 0
    assert livekit_webhooks.disagreed == []  # the listener's verifier reads them alike
