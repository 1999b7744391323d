"""Being in a room over time: leave and join again, join hidden as an observer, and ride
out a restart of the LiveKit server, all through the window against real servers."""

from __future__ import annotations

import asyncio

import pytest
from livekit import rtc
from pytestqt.qtbot import QtBot

from recconsole.settings import Settings
from recconsole.ui.app import build_services, shutdown
from recconsole.ui.main_window import MainWindow
from recconsole_devtools.bot import BotOptions, PublisherBot, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, DevStack, StackConfig
from tests.e2e.conftest import next_emission
from tests.helpers.rooms import TEST_APP, unique_room
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e
VIDEO = BotOptions(width=320, height=180, fps=15, audio=False)


def _window(qtbot: QtBot, cfg: StackConfig, room: str) -> MainWindow:
    settings = Settings.from_env({**cfg.env(), "APP_NAME": TEST_APP, "REDIS_URL": ""})
    window = MainWindow(build_services(settings), room=room)
    qtbot.addWidget(window)
    window.show()
    return window


async def _join(window: MainWindow, observer: bool = False) -> None:
    window.observer_box.setChecked(observer)
    joined = next_emission(window.joinedChanged)
    window.join_button.click()
    assert await asyncio.wait_for(joined, 20) == (True,), window.error_text


async def _leave(window: MainWindow) -> None:
    left = next_emission(window.joinedChanged)
    window.leave_button.click()
    assert await asyncio.wait_for(left, 20) == (False,)


async def _tiles_move(window: MainWindow, count: int) -> None:
    """``count`` tiles, each receiving frames it did not have before this call."""
    tiles = window.room_view.tiles
    await eventually(lambda: len(tiles), count, within=20)
    before = {sid: tile.frames_received for sid, tile in tiles.items()}
    await eventually(lambda: all(tile.frames_received >= before.get(sid, 0) + 5
                                 for sid, tile in tiles.items()), True, within=30)


def _console_seen_by(bot: PublisherBot) -> bool:
    return any(p.identity.startswith("console-")
               for p in bot.room.remote_participants.values())


def test_leave_rejoin_and_observer(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, livekit_server: StackConfig,
) -> None:
    room = unique_room("session")
    window = _window(qtbot, livekit_server, room)

    async def scenario() -> None:
        bots = await start_bots(livekit_server.livekit_url, API_KEY, API_SECRET, room, 2, VIDEO)
        try:
            await _join(window)
            await _tiles_move(window, 2)
            await eventually(lambda: all(_console_seen_by(b) for b in bots), True)
            assert window.camera_button.isEnabled() == window.media.camera_available

            view = window.room_view
            await _leave(window)
            assert view.tiles == {}
            assert window.room is None  # the room's unit is gone with it
            assert window.session is None
            assert not window.join_card.isHidden()
            assert "Connected" not in window.connection.text()
            await eventually(lambda: any(_console_seen_by(b) for b in bots), False, within=20)

            await _join(window)  # the same window joins again: everything comes back
            await _tiles_move(window, 2)
            assert "Connected to" in window.connection.text()
            await _leave(window)

            # Hidden: it sees the room, nobody sees it, and it cannot publish.
            await _join(window, observer=True)
            await _tiles_move(window, 2)
            assert not window.camera_button.isEnabled()
            assert not window.microphone_button.isEnabled()
            assert "observer" in window.camera_button.toolTip()
            session = window.session
            assert session is not None
            assert not session.room.local_participant.permissions.can_publish
            source = rtc.VideoSource(64, 64)
            track = rtc.LocalVideoTrack.create_video_track("sneaky", source)
            # The server refuses it (this release never answers the request at all).
            with pytest.raises(Exception, match=r"(?i)permission|not allowed|publication"):
                async with asyncio.timeout(20):
                    await session.room.local_participant.publish_track(track)
            fresh = await start_bots(livekit_server.livekit_url, API_KEY, API_SECRET, room, 1,
                                     VIDEO, prefix="late")
            bots += fresh
            await _tiles_move(window, 3)
            assert not any(_console_seen_by(b) for b in bots)
        finally:
            await asyncio.gather(*(bot.stop() for bot in bots))
            await shutdown(window)

    qloop.run_until_complete(scenario())


def test_the_window_rides_out_a_restart_of_the_livekit_server(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, private_livekit: DevStack,
) -> None:
    cfg = private_livekit.cfg
    room = unique_room("restart")
    window = _window(qtbot, cfg, room)

    async def scenario() -> None:
        bots = await start_bots(cfg.livekit_url, API_KEY, API_SECRET, room, 1, VIDEO)
        try:
            await _join(window)
            await _tiles_move(window, 1)
            await asyncio.to_thread(private_livekit.stop, "livekit")
            await eventually(lambda: "reconnecting" in window.connection.text(), True,
                             within=30)
            assert window.session is not None  # it has not given up on the room
            await asyncio.to_thread(private_livekit.start, "livekit")
            await eventually(lambda: window.connection.text().startswith(
                f"Connected to {room}"), True, within=60)
            await _tiles_move(window, 1)  # the bot came back too, and its video with it
            assert window.error_text == ""
        finally:
            await asyncio.gather(*(bot.stop() for bot in bots))
            await shutdown(window)

    qloop.run_until_complete(scenario())
