"""The Rooms page and moderation in the window, against the real LiveKit server.

Rooms come and go as bots join and leave, the page follows LiveKit's own webhooks
(through the window's listener) or its poll when none arrive, and acts on rooms.
What recording from the list adds beyond tests/e2e/test_real_rooms_page.py (real egress)
uses the egress stand-in (the test server runs no egress).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from livekit import api, rtc
from pytestqt.qtbot import QtBot

from recconsole.core.recorder import Recorder
from recconsole.core.recording_info import RecordingInfo
from recconsole.settings import Settings
from recconsole.ui.app import build_services, shutdown, start_listener
from recconsole.ui.main_window import MainWindow
from recconsole.ui.rooms_model import RECORDING, STORED, RoomsModel
from recconsole.ui.rooms_page import RoomsPage
from recconsole_devtools.bot import BotOptions, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.e2e.conftest import next_emission
from tests.helpers.egress_stand_in import StandInEgressServer
from tests.helpers.rooms import TEST_APP, make_leave, unique_room
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e

SMALL = BotOptions(width=64, height=64, fps=5)
NEVER = 3600.0  # a poll that never comes within a test


def _settings(cfg: StackConfig, **extra: str) -> Settings:
    return Settings.from_env({**cfg.env(), "APP_NAME": TEST_APP, "REDIS_URL": "", **extra})


def _text(model: RoomsModel, room: str, column: int) -> str:
    found = model.room(room)
    if found is None:
        return "(no row)"
    return str(model.data(model.index(model.names.index(room), column)))


def _counts(page: RoomsPage, room: str) -> tuple[int, int] | None:
    found = page.model.room(room)
    return (found.participants, found.publishers) if found is not None else None


def _on_rooms_page(window: MainWindow, **timing: float) -> RoomsPage:
    page = window.rooms
    for name, value in timing.items():
        setattr(page, name, value)
    window.show()
    window.tabs.setCurrentWidget(page)
    return page


def test_rooms_follow_livekit_webhooks_as_bots_join_and_leave(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, livekit_server: StackConfig,
    listener_port: int,
) -> None:
    window = MainWindow(build_services(_settings(livekit_server, SERVER_PORT=str(listener_port))))
    qtbot.addWidget(window)
    url = livekit_server.livekit_url

    async def scenario() -> None:
        listener = await start_listener(window)
        assert listener is not None, window.event_log.toPlainText()
        # No poll: whatever changes below reaches the page through webhooks alone.
        page = _on_rooms_page(window, poll_every=NEVER, check_every=NEVER)
        lk = api.LiveKitAPI(url, API_KEY, API_SECRET)
        bots = []
        try:
            short = unique_room("short")  # closes a second after its last participant left
            await lk.room.create_room(api.CreateRoomRequest(
                name=short, departure_timeout=1, metadata=json.dumps({"createdBy": "other"})))
            await eventually(lambda: _text(page.model, short, 1), "other")
            await eventually(lambda: "Live from LiveKit's webhooks" in page.source.text(), True)

            joined = unique_room("joined")  # made by the first bot that joins
            bots = await start_bots(url, API_KEY, API_SECRET, joined, 2, SMALL)
            # ListRooms' counts lag by seconds; the webhooks bring the room's own count.
            await eventually(lambda: _counts(page, joined), (2, 2))
            await make_leave(bots[0], url, joined)
            await eventually(lambda: _counts(page, joined), (1, 1))

            (passing,) = await start_bots(url, API_KEY, API_SECRET, short, 1, SMALL,
                                          prefix="passing")
            await eventually(lambda: _counts(page, short), (1, 1))
            await make_leave(passing, url, short)
            await eventually(lambda: page.model.room(short) is None, True)

            # Its recordings are counted from the recordings page.
            window.recordings.model.merge([RecordingInfo(
                "EG_x", f"{joined}-RM_x-1.mp4", joined, "RM_x", 1_700_000_000_000, 3.0, 10)])
            await eventually(lambda: _text(page.model, joined, STORED), "1")
            page.filter.setText(joined)
            assert page.proxy.rowCount() == 1
            page.select_rooms([joined])
            page.recordings_button.click()
            assert window.tabs.currentWidget() is window.recordings
            assert window.recordings.room_filter.text() == joined

            # Join from the list.
            window.tabs.setCurrentWidget(page)
            page.select_rooms([joined])
            entered = next_emission(window.joinedChanged)
            page.join_button.click()
            assert await asyncio.wait_for(entered, 20) == (True,)
            assert window.room_name == joined

            # Close it from the list: the bot still in it is disconnected, the row goes.
            left = next_emission(window.joinedChanged)
            window.tabs.setCurrentWidget(page)
            page.select_rooms([joined])
            questions: list[str] = []
            page.confirm = lambda question: questions.append(question) is None
            acted = next_emission(page.acted)
            page.close_button.click()
            assert await asyncio.wait_for(acted, 10) == ("Closed", {})
            assert questions == [f"Close the room {joined}? Everyone in it is disconnected;"
                                 " recordings in progress end."]
            assert page.model.room(joined) is None
            assert await asyncio.wait_for(left, 10) == (False,)
            assert "the room was closed" in window.error_text
        finally:
            await asyncio.gather(*(bot.stop() for bot in bots[1:]))
            await lk.aclose()
            await shutdown(window, listener)

    qloop.run_until_complete(scenario())


def test_without_webhooks_the_page_polls_and_says_so(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, livekit_server: StackConfig,
) -> None:
    window = MainWindow(build_services(_settings(livekit_server)))  # no listener runs
    qtbot.addWidget(window)

    async def scenario() -> None:
        page = _on_rooms_page(window, poll_every=0.2, grace=0.2)
        try:
            await asyncio.wait_for(next_emission(page.refreshed), 10)
            assert "no webhook has reached this console" in page.source.text()
            room = unique_room("polled")
            await window.services.server.ensure_room(room)
            await eventually(lambda: _text(page.model, room, 1), TEST_APP)
            await eventually(lambda: "a room changed without a webhook" in page.source.text(),
                             True)
            await window.services.server.lkapi.room.delete_room(api.DeleteRoomRequest(room=room))
            await eventually(lambda: page.model.room(room) is None, True)
        finally:
            await shutdown(window)

    qloop.run_until_complete(scenario())


def test_record_two_rooms_from_the_list_and_refuse_a_second_start_stand_in(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, livekit_server: StackConfig,
) -> None:
    """What the real-egress tests (tests/e2e/test_real_rooms_page.py) leave out, in
    seconds: the page's time limit reaches each start, and a second start is refused
    for each room by the per-room lock, named in the banner. Recording from the list
    and fixing a disagreeing status are tested there with the real egress."""
    settings = _settings(livekit_server)
    services = build_services(settings)
    stand_in = StandInEgressServer(settings.livekit_url, API_KEY, API_SECRET, app_name=TEST_APP)
    services.server = stand_in
    services.recorder = Recorder(stand_in, recording_locks=services.shared.locks,
                                 started=services.shared.started, poll_interval=0.05,
                                 events=services.events)
    window = MainWindow(services)
    qtbot.addWidget(window)

    async def scenario() -> None:
        page = _on_rooms_page(window, poll_every=0.3)
        rooms = [unique_room("list"), unique_room("list")]
        try:
            for room in rooms:
                await stand_in.ensure_room(room)
            await eventually(lambda: all(page.model.room(r) for r in rooms), True)

            page.select_rooms(rooms)
            page.max_minutes.setValue(5)
            acted = next_emission(page.acted)
            page.start_button.click()
            assert await asyncio.wait_for(acted, 10) == ("Recording started", {})
            recording: Callable[[], list[str]] = lambda: [  # noqa: E731
                _text(page.model, r, RECORDING) for r in rooms]
            await eventually(recording, ["Recording", "Recording"])
            started = [await services.shared.started.get(e.egress_id)
                       for e in stand_in.egresses.values()]
            assert [s.stop_at is not None for s in started if s is not None] == [True, True]
            again = next_emission(page.acted)
            page.start_button.click()  # the same locks as the room view: refused per room
            _name, failed = await asyncio.wait_for(again, 10)
            assert sorted(failed) == sorted(rooms)
            assert all("already being recorded" in message for message in failed.values())
            assert "Not done:" in page.banner_text.text()

            stopped = next_emission(page.acted)
            page.stop_button.click()
            assert await asyncio.wait_for(stopped, 10) == ("Recording stopped", {})
            await eventually(recording, ["Not recording", "Not recording"])
        finally:
            await shutdown(window)

    qloop.run_until_complete(scenario())


def test_moderator_mutes_and_removes_a_bot_in_the_room_view(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, livekit_server: StackConfig,
) -> None:
    room = unique_room("moderate")
    window = MainWindow(build_services(_settings(livekit_server)), room=room)
    qtbot.addWidget(window)
    window.show()
    url = livekit_server.livekit_url

    async def scenario() -> None:
        (bot,) = await start_bots(url, API_KEY, API_SECRET, room, 1, SMALL)
        told: set[str] = set()
        bot.room.on("track_muted", lambda _who, publication: told.add(
            rtc.TrackSource.Name(publication.source)))
        gone: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        bot.room.on("disconnected", lambda reason: gone.done() or gone.set_result(
            rtc.DisconnectReason.Name(reason)))
        questions: list[str] = []
        window.confirm = lambda question: questions.append(question) is None
        try:
            joined = next_emission(window.joinedChanged)
            window.join_button.click()
            assert await asyncio.wait_for(joined, 20) == (True,)
            view = window.room_view
            people = view.people
            await eventually(lambda: people.count() and people.item(0).text(),
                             "Bot 1  (video, audio)")
            item = view.person_item("bot-1")
            assert item is not None
            item.setSelected(True)

            view.mute_microphone_button.click()
            await eventually(lambda: told, {"SOURCE_MICROPHONE"})
            await eventually(lambda: people.item(0).text(), "Bot 1  (video, audio muted)")
            view.mute_camera_button.click()
            await eventually(lambda: told, {"SOURCE_MICROPHONE", "SOURCE_CAMERA"})
            await eventually(lambda: people.item(0).text(), "Bot 1  (video muted, audio muted)")
            assert questions[0] == (f"Mute the microphone of Bot 1 for everyone in {room}?"
                                    " Only they can turn it back on.")

            view.person_item("bot-1").setSelected(True)  # type: ignore[union-attr]
            view.remove_button.click()
            assert await asyncio.wait_for(gone, 10) == "PARTICIPANT_REMOVED"
            await eventually(lambda: people.count(), 0)
            assert questions[-1].startswith(f"Remove Bot 1 from {room}?")
        finally:
            await bot.stop()
            await shutdown(window)

    qloop.run_until_complete(scenario())


def test_moderation_asks_first_and_does_nothing_when_declined(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, livekit_server: StackConfig,
) -> None:
    room = unique_room("declined")
    window = MainWindow(build_services(_settings(livekit_server)), room=room)
    qtbot.addWidget(window)
    url = livekit_server.livekit_url

    async def scenario() -> None:
        (bot,) = await start_bots(url, API_KEY, API_SECRET, room, 1, SMALL)
        window.confirm = lambda _question: False
        try:
            joined = next_emission(window.joinedChanged)
            window.join_button.click()
            assert await asyncio.wait_for(joined, 20) == (True,)
            await eventually(lambda: window.room_view.person_item("bot-1") is not None, True)
            busy: list[bool] = []
            joined_room = window.room
            assert joined_room is not None
            joined_room.runner.busyChanged.connect(busy.append)
            joined_room.remove_participant("bot-1")
            joined_room.mute_participant("bot-1", "microphone")
            assert busy == []  # nothing was asked of the server
            people = await window.services.server.list_participants(room)
            bot_info = next(p for p in people if p.identity == "bot-1")
            assert not any(track.muted for track in bot_info.tracks)
        finally:
            await bot.stop()
            await shutdown(window)

    qloop.run_until_complete(scenario())
