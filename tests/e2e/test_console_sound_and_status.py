"""The console window against the real stack: the room's sound, the badge driven by
signed egress webhooks through the embedded listener, and live recording rows."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from livekit import api
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from recconsole.core.recording_info import RecordingInfo
from recconsole.core.recording_status import RecordingStatus
from recconsole.settings import Settings
from recconsole.ui.app import build_services, shutdown, start_listener
from recconsole.ui.main_window import MainWindow
from recconsole_devtools.bot import BotOptions, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.e2e.conftest import next_emission
from tests.helpers.rooms import TEST_APP, unique_room
from tests.helpers.sound import RATE, SpeakerRecorder
from tests.helpers.waiting import eventually
from tests.helpers.webhooks import egress_event, post, sign

pytestmark = pytest.mark.e2e
S = api.EgressStatus


async def _join(window: MainWindow) -> None:
    joined = next_emission(window.joinedChanged)
    window.join_button.click()
    assert await asyncio.wait_for(joined, 20) == (True,)


async def _recorded(speaker: SpeakerRecorder, since: int, seconds: float) -> None:
    await eventually(lambda: speaker.mark() - since >= int(RATE * seconds), True)


def test_the_room_is_heard_and_the_mutes_silence_it(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, livekit_server: StackConfig,
    silent_speaker: StackConfig,
) -> None:
    settings = Settings.from_env({**livekit_server.env(), "APP_NAME": TEST_APP,
                                  "REDIS_URL": ""})
    room = unique_room("sound")
    window = MainWindow(build_services(settings), room=room)
    qtbot.addWidget(window)
    window.show()

    async def scenario() -> None:
        bots = await start_bots(livekit_server.livekit_url, API_KEY, API_SECRET, room, 1,
                                BotOptions(video=False, tone_hz=440))
        try:
            with SpeakerRecorder(silent_speaker.pulse_server) as speaker:
                await _join(window)
                await eventually(lambda: window.audio.bytes_played > RATE, True, within=20)
                start = speaker.mark()
                await _recorded(speaker, start, 0.5)
                assert speaker.loudness(start) > 1000
                assert speaker.pitch(start) == pytest.approx(440, abs=5)
                people = window.room_view.people
                assert people.item(0).text() == "Bot 1  (audio only)"
                assert window.sound_button.text() == "Sound on"

                window.sound_button.click()
                assert window.audio.muted
                assert window.sound_button.text() == "Sound off"
                quiet = speaker.mark()
                await _recorded(speaker, quiet, 0.8)
                assert speaker.loudness(quiet + RATE // 4) < 50  # after what the device held

                window.sound_button.click()
                back = speaker.mark()
                await eventually(lambda: speaker.loudness(back) > 1000, True)

                # Unticking the bot mutes it here only; the room still plays (silence).
                people.item(0).setCheckState(Qt.CheckState.Unchecked)
                assert window.audio.is_person_muted("bot-1")
                quiet = speaker.mark()
                await _recorded(speaker, quiet, 0.8)
                assert speaker.loudness(quiet + RATE // 4) < 50  # after what the device held
        finally:
            await asyncio.gather(*(bot.stop() for bot in bots))
            await shutdown(window)

    qloop.run_until_complete(scenario())


def test_badge_follows_signed_egress_webhooks_and_rows_come_and_go_live(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, livekit_server: StackConfig,
    minio_server: StackConfig, listener_port: int,
) -> None:
    env = {**livekit_server.env(), **minio_server.env(), "APP_NAME": TEST_APP,
           "REDIS_URL": "", "SERVER_PORT": str(listener_port),
           "RECORDINGS_PATH": f"console-{uuid.uuid4().hex[:8]}/"}
    settings = Settings.from_env(env)
    room = unique_room("badge")
    window = MainWindow(build_services(settings), room=room)
    qtbot.addWidget(window)
    window.show()
    other_console = build_services(settings)  # a second console in the same deployment

    async def scenario() -> None:
        listener = await start_listener(window)
        assert listener is not None, window.event_log.toPlainText()
        try:
            # A recording of another room: listed on the All page, not in this room's table.
            other = "another-room-RM_x-2026-11-21T090000.mp4"
            await other_console.catalog.store.write_bytes(
                other_console.catalog.recording_key(other), b"\0" * 1024, "video/mp4")
            await other_console.catalog.save_metadata(RecordingInfo(
                "EG_other", other, "another-room", "RM_x", 1_794_000_000_000, 12.0, 1024))
            joined = next_emission(window.joinedChanged)
            window.join_button.click()  # the room's unit is made at once, then connects
            room_listed = next_emission(window.room_recordings.loaded)
            assert await asyncio.wait_for(joined, 20) == (True,)
            assert window.status is RecordingStatus.STOPPED
            assert await asyncio.wait_for(room_listed, 15) == (0,)
            assert not window.room_recordings.model.has(other)

            async def hook(kind: str, status: int, **extra: str) -> None:
                body = egress_event(kind, room, "EG_badge", status, **extra)
                assert (await post(listener.url, body, sign(body)))[0] == 200

            await hook("egress_started", S.EGRESS_STARTING)
            await eventually(lambda: window.status, RecordingStatus.STARTING)
            assert "Starting" in window.badge.text()
            assert not window.record_button.isEnabled()

            await hook("egress_updated", S.EGRESS_ACTIVE)
            await eventually(lambda: window.status, RecordingStatus.STARTED)
            assert "Recording" in window.badge.text()
            assert window.record_button.isEnabled()
            assert window.record_button.text() == "Stop recording"
            assert window.clock.text().count(":") == 2

            name = f"{room}-RM_test-2026-11-22T101010.mp4"
            await other_console.catalog.store.write_bytes(
                other_console.catalog.recording_key(name), b"\0" * 2048, "video/mp4")
            await hook("egress_updated", S.EGRESS_ENDING)
            await eventually(lambda: window.status, RecordingStatus.STOPPING)
            assert not window.record_button.isEnabled()
            await hook("egress_ended", S.EGRESS_COMPLETE, file_name=name)
            await eventually(lambda: window.status, RecordingStatus.STOPPED)
            assert window.clock.text() == ""

            # The recording appears without a refresh, and goes when another console
            # deletes it (RECORDING_DELETED reaches this console through the room).
            model, room_model = window.recordings.model, window.room_recordings.model
            await eventually(lambda: model.has(name) and room_model.has(name), True)
            assert await other_console.recordings.delete(name)
            await eventually(lambda: model.has(name) or room_model.has(name), False)

            await hook("egress_started", S.EGRESS_STARTING)
            await eventually(lambda: window.status, RecordingStatus.STARTING)
            await hook("egress_ended", S.EGRESS_FAILED, error="Chrome crashed")
            await eventually(lambda: window.status, RecordingStatus.FAILED)
            assert window.badge.toolTip() == "Chrome crashed"
            assert "Chrome crashed" in window.error_text
        finally:
            await other_console.catalog.store.aclose()
            await other_console.server.aclose()
            await other_console.recorder.aclose()
            await shutdown(window, listener)

    qloop.run_until_complete(scenario())
