"""Recording two rooms at once from the Rooms page, with the real egress service: both
start and stop from one click each, the page follows them, and each room's file is
listed (All recordings, and the room's count on the page)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from pytestqt.qtbot import QtBot

from recconsole.core.recording_info import MetadataState
from recconsole.settings import Settings
from recconsole.ui.app import build_services, shutdown, start_listener
from recconsole.ui.main_window import MainWindow
from recconsole.ui.rooms_model import RECORDING, STORED, RoomsModel
from recconsole_devtools.bot import BotOptions, PublisherBot, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.e2e.conftest import next_emission
from tests.helpers.rooms import TEST_APP, unique_room
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e
SMALL = BotOptions(width=320, height=180, fps=15)
RECORD_FOR = 4.0  # seconds both rooms are recorded


def _text(model: RoomsModel, room: str, column: int) -> str:
    if model.room(room) is None:
        return "(no row)"
    return str(model.data(model.index(model.names.index(room), column)))


def test_start_and_stop_two_rooms_from_the_list_with_the_real_egress(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, egress_stack: StackConfig,
) -> None:
    cfg = egress_stack
    settings = Settings.from_env({**cfg.env(), "APP_NAME": TEST_APP, "REDIS_URL": "",
                                  "SERVER_PORT": str(cfg.ports.webhook)})
    rooms = [unique_room("list-real"), unique_room("list-real")]
    window = MainWindow(build_services(settings))
    qtbot.addWidget(window)
    window.show()
    server = window.services.server
    page = window.rooms

    async def scenario() -> None:
        listener = await start_listener(window)
        assert listener is not None, window.event_log.toPlainText()
        bots: list[PublisherBot] = []
        try:
            for room in rooms:  # this app's rooms: the listener acts on their webhooks
                await server.ensure_room(room)
                bots += await start_bots(cfg.livekit_url, API_KEY, API_SECRET, room, 1, SMALL)
            window.tabs.setCurrentWidget(page)
            await eventually(lambda: all(page.model.room(r) for r in rooms), True, within=20)

            page.select_rooms(rooms)
            assert sorted(page.selected_rooms()) == sorted(rooms)
            acted = next_emission(page.acted)
            page.start_button.click()
            assert await asyncio.wait_for(acted, 90) == ("Recording started", {})
            recording: Callable[[], list[str]] = lambda: [  # noqa: E731
                _text(page.model, r, RECORDING) for r in rooms]
            await eventually(recording, ["Recording", "Recording"], within=90)
            live = {room: [e.egress_id for e in await server.list_egress(room, active=True)]
                    for room in rooms}
            assert all(len(ids) == 1 for ids in live.values()), live
            since = time.monotonic()
            await eventually(lambda: time.monotonic() - since >= RECORD_FOR, True, within=30)

            stopped = next_emission(page.acted)
            page.stop_button.click()
            assert await asyncio.wait_for(stopped, 60) == ("Recording stopped", {})
            assert "Recording stopped in 2 rooms" in page.progress.text()
            await eventually(recording, ["Not recording", "Not recording"], within=90)

            # Each room's file, listed without a refresh and counted on the Rooms page.
            model = window.recordings.model

            def listed() -> list[int]:
                infos = [model.info(row) for row in range(model.rowCount())]
                return [sum(i.room_name == room for i in infos) for room in rooms]

            await eventually(listed, [1, 1], within=60)
            for row in range(model.rowCount()):
                info = model.info(row)
                if info.room_name in rooms:
                    assert info.name.startswith(f"{info.room_name}-")
                    assert info.name.endswith(".mp4")
                    assert info.metadata is MetadataState.OK
                    assert info.size > 10_000
                    assert info.id in live[info.room_name]
            await eventually(lambda: [_text(page.model, r, STORED) for r in rooms],
                             ["1", "1"], within=10)
        finally:
            await asyncio.gather(*(bot.stop() for bot in bots))
            await shutdown(window, listener)

    qloop.run_until_complete(scenario())
