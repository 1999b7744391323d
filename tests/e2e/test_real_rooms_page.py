"""The Rooms page with the real egress service: two rooms recorded at once from the list
(both start and stop from one click each, the page follows them, and each room's file
is listed: All recordings, and the room's count on the page); a room's metadata and its
egress disagreeing, both ways, shown and set right from the list."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import pytest
from pytestqt.qtbot import QtBot

from recconsole.core.recording_info import MetadataState
from recconsole.core.recording_status import RecordingStatus
from recconsole.settings import Settings
from recconsole.ui.app import build_services, shutdown, start_listener
from recconsole.ui.main_window import MainWindow
from recconsole.ui.rooms_model import RECORDING, STORED, RoomsModel
from recconsole.ui.rooms_page import RoomsPage
from recconsole_devtools.bot import BotOptions, PublisherBot, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.e2e.conftest import next_emission
from tests.helpers.rooms import TEST_APP, unique_room
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e
SMALL = BotOptions(width=320, height=180, fps=15)
RECORD_FOR = 4.0  # seconds both rooms are recorded
SAYS = 6  # the "Metadata says" column


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


async def _act(page: RoomsPage, button_name: str, rooms: list[str],
               within: float) -> tuple[str, dict[str, str]]:
    """Select ``rooms`` and click one of the page's action buttons, as an operator would."""
    page.select_rooms(rooms)
    assert sorted(page.selected_rooms()) == sorted(rooms)
    acted = next_emission(page.acted)
    getattr(page, button_name).click()
    done: tuple[str, dict[str, str]] = await asyncio.wait_for(acted, within)
    return done


def test_metadata_and_egress_disagreeing_are_shown_and_fixed_from_the_list(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, egress_stack: StackConfig,
) -> None:
    """Two rooms whose metadata and real egress disagree: one this app's metadata says
    STARTED with no egress recording it (a console that crashed would leave it so), one
    recorded by an egress started straight through the egress API while its metadata says
    STOPPED (another app would do so). No listener runs (its reconciling at start would
    fix the first before the operator sees it): the page polls."""
    cfg = egress_stack
    settings = Settings.from_env({**cfg.env(), "APP_NAME": TEST_APP, "REDIS_URL": ""})
    stale, unsaid = unique_room("stale-real"), unique_room("unsaid-real")
    window = MainWindow(build_services(settings))
    qtbot.addWidget(window)
    services = window.services
    server, recorder = services.server, services.recorder
    page = window.rooms
    page.poll_every = 0.5
    page.model.disagreement_after = 0.0  # shown at the first snapshot that sees it
    window.show()

    def shown(room: str) -> tuple[str, str]:
        return _text(page.model, room, RECORDING), _text(page.model, room, SAYS)

    def why(room: str) -> str:
        found = page.model.room(room)
        return page.model.disagreement(found) if found is not None else "(no row)"

    async def scenario() -> None:
        bots: list[PublisherBot] = []
        direct = ""
        try:
            for room in (stale, unsaid):  # both this app's, made STOPPED
                await server.ensure_room(room)
                bots += await start_bots(cfg.livekit_url, API_KEY, API_SECRET, room, 1, SMALL)
            await server.set_recording_status(stale, RecordingStatus.STARTED)
            upload = await recorder.upload() if callable(recorder.upload) else recorder.upload
            direct = (await server.start_room_composite(
                unsaid, recorder.file_output(upload))).egress_id
            window.tabs.setCurrentWidget(page)

            await eventually(lambda: shown(stale), ("⚠ Not recording", "STARTED"), within=20)
            assert why(stale) == ("The room's metadata says STARTED, but no recording is"
                                  " running.")
            await eventually(lambda: shown(unsaid), ("⚠ Recording", "STOPPED"), within=90)
            assert why(unsaid) == (f"A recording is running ({direct}), but the room's"
                                   " metadata says STOPPED.")
            assert [e.egress_id for e in await server.list_egress(stale, active=True)] == []

            # One click sets both right, each from what the real egress says.
            assert await _act(page, "fix_button", [stale, unsaid], 30) == (
                "Status set right", {})
            await eventually(lambda: shown(stale), ("Not recording", "STOPPED"), within=20)
            await eventually(lambda: shown(unsaid), ("Recording", "STARTED"), within=20)
            assert await server.recording_status(stale) is RecordingStatus.STOPPED
            assert await server.recording_status(unsaid) is RecordingStatus.STARTED
            assert why(stale) == why(unsaid) == ""

            # The other app's recording is stopped from the list like one of ours.
            assert await _act(page, "stop_button", [unsaid], 60) == ("Recording stopped", {})
            await eventually(lambda: shown(unsaid), ("Not recording", "STOPPED"), within=90)
            direct = ""

            # The room that was stale is recorded anew from the list, then stopped.
            assert await _act(page, "start_button", [stale], 90) == ("Recording started", {})
            await eventually(lambda: shown(stale), ("Recording", "STARTED"), within=90)
            (live,) = await server.list_egress(stale, active=True)
            assert page.model.room(stale).egress_id == live.egress_id  # type: ignore[union-attr]
            assert await _act(page, "stop_button", [stale], 60) == ("Recording stopped", {})
            await eventually(lambda: shown(stale), ("Not recording", "STOPPED"), within=90)
            assert why(stale) == ""
        finally:
            if direct:
                with contextlib.suppress(Exception):
                    await server.stop_egress(direct)
            await asyncio.gather(*(bot.stop() for bot in bots))
            await shutdown(window)

    qloop.run_until_complete(scenario())
