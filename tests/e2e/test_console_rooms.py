"""Several rooms joined at once (real LiveKit, bots in each): each room's tab shows its own
tiles and people, and one room at a time is heard, the one the moderator chose."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from recconsole.settings import Settings
from recconsole.ui.app import build_services, shutdown
from recconsole.ui.joined_room import JoinedRoom
from recconsole.ui.main_window import MainWindow
from recconsole_devtools.bot import BotOptions, PublisherBot, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.e2e.conftest import next_emission
from tests.helpers.rooms import TEST_APP, unique_room
from tests.helpers.sound import RATE, SpeakerRecorder
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e


def _window(qtbot: QtBot, cfg: StackConfig) -> MainWindow:
    settings = Settings.from_env({**cfg.env(), "APP_NAME": TEST_APP, "REDIS_URL": ""})
    window = MainWindow(build_services(settings))
    qtbot.addWidget(window)
    window.show()
    return window


async def _join(window: MainWindow, room: str) -> JoinedRoom:
    window.room_input.setEditText(room)
    joined = next_emission(window.joinedChanged)
    window.join_button.click()
    assert await asyncio.wait_for(joined, 20) == (True,), window.error_text
    assert window.room is not None
    return window.room


async def _frames_flow(room: JoinedRoom, count: int) -> None:
    """``count`` tiles in the room's view, each receiving frames."""
    tiles = room.room_view.tiles
    await eventually(lambda: len(tiles), count, within=20)
    before = {sid: tile.frames_received for sid, tile in tiles.items()}
    await eventually(lambda: all(tile.frames_received >= before.get(sid, 0) + 5
                                 for sid, tile in tiles.items()), True, within=30)


def _tone(speaker: SpeakerRecorder, since: int, hz: float) -> float:
    """How strongly ``hz`` (±15 Hz) sounds in what was played since ``since``: a
    starved player's gaps spread a tone, but leave it where it was."""
    pcm = speaker.samples(since).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
    freqs = np.fft.rfftfreq(len(pcm), 1 / RATE)
    return float(spectrum[np.abs(freqs - hz) <= 15].sum())


def _people(room: JoinedRoom) -> list[str]:
    return sorted(room.room_view.participants())


def test_two_rooms_joined_at_once_each_show_their_own_tiles_and_one_is_heard(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, livekit_server: StackConfig,
    silent_speaker: StackConfig,
) -> None:
    first, second = unique_room("two-a"), unique_room("two-b")
    window = _window(qtbot, livekit_server)
    url = livekit_server.livekit_url

    async def scenario() -> None:
        bots: list[PublisherBot] = []
        try:
            bots += await start_bots(url, API_KEY, API_SECRET, first, 2,
                                     BotOptions(width=320, height=180, fps=15, tone_hz=440),
                                     prefix="a")
            bots += await start_bots(url, API_KEY, API_SECRET, second, 1,
                                     BotOptions(width=320, height=180, fps=15, tone_hz=660),
                                     prefix="b")
            with SpeakerRecorder(silent_speaker.pulse_server) as speaker:
                room_a = await _join(window, first)
                assert window.join_card.isHidden()
                window.join_another.click()  # the form again; the console stays in the room
                assert not window.join_card.isHidden()
                room_b = await _join(window, second)
                assert window.join_card.isHidden()

                # A tab each, the one joined last in front; each its own tiles and people.
                tabs = window.room_tabs
                assert tabs.count() == 2
                assert tabs.currentWidget() is room_b.page
                assert window.room is room_b
                await _frames_flow(room_b, 1)
                # A room in a tab not shown receives no video (adaptive video): its tiles
                # stay, and their pictures come as soon as its tab is shown.
                tabs.setCurrentWidget(room_a.page)
                await _frames_flow(room_a, 2)
                tabs.setCurrentWidget(room_b.page)
                await eventually(lambda: _people(room_a), ["a-1", "a-2"])
                await eventually(lambda: _people(room_b), ["b-1"])
                assert room_a.room_label.text() == first
                assert room_b.room_label.text() == second
                assert room_a.session is not None
                assert room_b.session is not None
                assert room_a.session.room.name == first
                assert room_b.session.room.name == second

                # The first room is heard; the second joined muted.
                assert window.speaker is room_a
                assert not room_a.audio.muted
                assert room_b.audio.muted
                assert room_b.sound_button.text() == "Sound off"
                assert tabs.tabText(tabs.indexOf(room_a.page)) == f"🔊 {first}"
                assert tabs.tabText(tabs.indexOf(room_b.page)) == second
                await eventually(lambda: room_a.audio.bytes_played > RATE, True, within=20)
                heard = speaker.mark()
                await eventually(lambda: speaker.mark() - heard >= RATE, True)
                assert _tone(speaker, heard, 440) > 5 * _tone(speaker, heard, 660)

                # The moderator turns the second room's sound on: the first is muted.
                room_b.sound_button.click()
                assert window.speaker is room_b
                assert room_a.audio.muted
                assert not room_b.audio.muted
                assert room_a.sound_button.text() == "Sound off"
                assert tabs.tabText(tabs.indexOf(room_b.page)) == f"🔊 {second}"
                assert tabs.tabText(tabs.indexOf(room_a.page)) == first
                played = room_b.audio.bytes_played
                await eventually(lambda: room_b.audio.bytes_played > played + RATE, True,
                                 within=20)
                switched = speaker.mark()
                await eventually(lambda: speaker.mark() - switched >= RATE * 5 // 4, True)
                after = switched + RATE // 4  # what the device still held of the first
                assert _tone(speaker, after, 660) > 5 * _tone(speaker, after, 440)

                # Showing a tab changes nothing of what is heard; leaving one keeps the other.
                tabs.setCurrentWidget(room_a.page)
                assert window.room is room_a
                assert window.connection.text().startswith(f"Connected to {first}")
                assert window.speaker is room_b
                left = next_emission(window.joinedChanged)
                room_b.leave_button.click()
                assert await asyncio.wait_for(left, 20) == (False,)
                assert tabs.count() == 1
                assert window.room is room_a
                assert window.speaker is None
                assert window.join_card.isHidden()  # still in a room
                before = {sid: t.frames_received for sid, t in room_a.room_view.tiles.items()}
                await eventually(lambda: all(
                    t.frames_received > before[sid] for sid, t in
                    room_a.room_view.tiles.items()), True)
        finally:
            await asyncio.gather(*(bot.stop() for bot in bots))
            await shutdown(window)

    qloop.run_until_complete(scenario())


def test_joining_a_room_joined_already_shows_its_tab(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, livekit_server: StackConfig,
) -> None:
    first, second = unique_room("again-a"), unique_room("again-b")
    window = _window(qtbot, livekit_server)

    async def scenario() -> None:
        try:
            room_a = await _join(window, first)
            room_b = await _join(window, second)
            window.tabs.setCurrentWidget(window.rooms)
            window.join_room(first, False)  # from the Rooms page: no second connection
            assert window.tabs.currentWidget() is window.pages
            assert window.room_tabs.currentWidget() is room_a.page
            assert window.room is room_a
            assert window.room_tabs.count() == 2
            assert window.joining is None
            people = await window.services.server.list_participants(first)
            assert len([p for p in people if p.identity.startswith("console-")]) == 1
            assert room_b.session is not None
        finally:
            await shutdown(window)

    qloop.run_until_complete(scenario())
