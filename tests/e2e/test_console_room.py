"""The console window against the real LiveKit server: join, see bots, record button.

The window runs in a qasync loop, as in the application; bots publish real video.
"""

from __future__ import annotations

import asyncio

import pytest
from pytestqt.qtbot import QtBot

from recconsole.core.recording_status import RecordingStatus
from recconsole.settings import Settings
from recconsole.ui.app import build_services, shutdown
from recconsole.ui.main_window import MainWindow
from recconsole_devtools.bot import BotOptions, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.e2e.conftest import next_emission
from tests.helpers.rooms import TEST_APP, make_leave, unique_room
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e


def test_console_joins_sees_three_bots_and_follows_the_room(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, livekit_server: StackConfig
) -> None:
    settings = Settings.from_env({**livekit_server.env(), "APP_NAME": TEST_APP,
                                  "REDIS_URL": ""})
    room = unique_room("console")
    window = MainWindow(build_services(settings), room=room)
    qtbot.addWidget(window)
    window.show()

    async def scenario() -> None:
        bots = await start_bots(livekit_server.livekit_url, API_KEY, API_SECRET, room, 3,
                                BotOptions(width=320, height=180, fps=15, audio=False))
        try:
            joined = next_emission(window.joinedChanged)
            window.join_button.click()
            assert await asyncio.wait_for(joined, 20) == (True,)
            tiles = window.room_view.tiles
            await eventually(lambda: len(tiles) == 3 and all(
                t.frames_received >= 5 for t in tiles.values()), True, within=20)
            first = {sid: tile.grab().toImage() for sid, tile in tiles.items()}
            await eventually(lambda: all(
                tile.grab().toImage() != first[sid] for sid, tile in tiles.items()), True)
            assert sorted(t.name for t in tiles.values()) == ["Bot 1", "Bot 2", "Bot 3"]

            await make_leave(bots[0], livekit_server.livekit_url, room)
            await eventually(lambda: len(tiles), 2)
            assert sorted(t.name for t in tiles.values()) == ["Bot 2", "Bot 3"]

            # The room's status reaches the badge through the room metadata.
            await window.services.server.set_recording_status(room, RecordingStatus.STARTED)
            await eventually(lambda: window.status, RecordingStatus.STARTED)
            assert "Recording" in window.badge.text()
            assert window.record_button.text() == "Stop recording"
            await window.services.server.set_recording_status(room, RecordingStatus.STOPPED)
            await eventually(lambda: window.status, RecordingStatus.STOPPED)
            # (No egress service here: Record records on this computer, see
            # test_console_local_recording.py.)
        finally:
            await asyncio.gather(*(bot.stop() for bot in bots[1:]))
            await shutdown(window)

    qloop.run_until_complete(scenario())

