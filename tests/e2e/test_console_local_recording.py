"""The window records a room on this computer when the server has no egress service.

Real LiveKit (no egress service), MinIO as the recordings store, two publisher bots.
The moderator clicks Record: the window falls back to recording itself, shows the
figures, and on Stop the file is uploaded and listed like an egress recording.
Leaving while recording asks first, then stops the recording cleanly. What a crash
left in the spool is uploaded when the console next starts.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from livekit import rtc
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from recconsole.core.events import RecordingStatusChanged
from recconsole.core.livekit_server import parse_metadata, ws_url
from recconsole.core.recording_status import RecordingStatus
from recconsole.core.tokens import mint_token
from recconsole.realtime.spool import spool_dir
from recconsole.settings import Settings
from recconsole.ui.app import build_services, console_lifetime, open_window, shutdown
from recconsole.ui.main_window import MainWindow
from recconsole_devtools.bot import BotOptions, PublisherBot, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.e2e.conftest import next_emission
from tests.helpers.rooms import TEST_APP, unique_room
from tests.helpers.sound import PITCH_HZ
from tests.helpers.waiting import eventually
from tests.integration.test_local_recording import read_content

pytestmark = pytest.mark.e2e
TONE_HZ = 610.0
RECORD_FOR = 5.0


def _window(qtbot: QtBot, livekit_server: StackConfig, minio_server: StackConfig,
            prefix: str) -> tuple[MainWindow, str]:
    """A console over the real LiveKit (no egress service) and MinIO, shown, with a new
    room's name in its join form."""
    settings = Settings.from_env({**livekit_server.env(), **minio_server.env(),
                                  "APP_NAME": TEST_APP, "REDIS_URL": ""})
    room = unique_room(prefix)
    window = MainWindow(build_services(settings), room=room)
    qtbot.addWidget(window)
    window.show()
    return window, room


def test_without_egress_the_window_records_on_this_computer_and_uploads(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, livekit_server: StackConfig,
    minio_server: StackConfig,
) -> None:
    window, room = _window(qtbot, livekit_server, minio_server, "local-window")
    services = window.services
    questions: list[str] = []
    shut: list[bool] = []

    async def scenario() -> None:
        bots: list[PublisherBot] = []
        watcher, statuses = rtc.Room(), []
        watcher.on("room_metadata_changed", lambda _old, new: statuses.append(
            str(parse_metadata(new).get("recordingStatus"))))
        try:
            joined = next_emission(window.joinedChanged)
            window.join_button.click()
            assert await asyncio.wait_for(joined, 20) == (True,)
            bots = await start_bots(livekit_server.livekit_url, API_KEY, API_SECRET, room, 2,
                                    BotOptions(width=320, height=180, fps=15,
                                               tone_hz=TONE_HZ))
            await watcher.connect(ws_url(livekit_server.livekit_url),
                                  mint_token(API_KEY, API_SECRET, room, "watcher",
                                             observer=True))
            tiles = window.room_view.tiles
            await eventually(lambda: len(tiles) == 2 and all(
                t.frames_received >= 5 for t in tiles.values()), True, within=20)

            clicked = time.monotonic()
            window.record_button.click()  # no egress service: recorded here instead
            await eventually(lambda: window.status, RecordingStatus.STARTED, within=30)
            started = time.monotonic()
            assert window.local_recording.choice.isChecked()
            assert not window.options_button.isEnabled()  # egress's options: not used here
            assert "Recording on this computer instead" in window.event_log.toPlainText()
            assert window.record_button.text() == "Stop recording"
            await eventually(lambda: "MB" in window.local_recording.figures.text(), True)
            assert re.search(r"\d+ dropped", window.local_recording.figures.text())
            await asyncio.sleep(RECORD_FOR - (time.monotonic() - started))
            window.record_button.click()
            elapsed, span = time.monotonic() - started, time.monotonic() - clicked
            await eventually(lambda: window.status, RecordingStatus.STOPPED, within=60)
            # STARTING lasts only until the first picture is written: a watcher on a busy
            # machine may get the room's next metadata before it was told that one.
            assert statuses in (["STARTING", "STARTED", "STOPPING", "STOPPED"],
                                ["STARTED", "STOPPING", "STOPPED"])
            assert not window.local_recording.figures.text()

            # Listed in the room's table like any recording, from the tutorial's metadata.
            model = window.room_recordings.model
            await eventually(lambda: model.total, 1, within=20)
            info = model.info(0)
            assert info.id.startswith("LOCAL_")
            assert info.extra == {"recordedBy": "console"}
            data = await services.catalog.store.read_bytes(
                services.catalog.recording_key(info.name))
            content = read_content(data)
            print(f"\nwindow: duration {content.duration:.2f} s, clock {elapsed:.2f} s,"
                  f" pitch {content.pitch:.1f} Hz")
            assert content.size == (1280, 720)
            assert content.pitch == pytest.approx(TONE_HZ, abs=PITCH_HZ)
            assert content.change > 1.0
            # It records from after the click until Stop: at least as long as the window
            # showed it recording, at most as long as since Record was clicked.
            assert elapsed - 0.5 <= content.duration <= span + 0.5, (elapsed, span)

            # Leaving while recording asks; "no" stays, "yes" stops cleanly and leaves.
            # This one records each participant's own file too.
            window.local_recording.each_participant.setChecked(True)
            window.record_button.click()
            await eventually(lambda: window.status, RecordingStatus.STARTED, within=30)
            window.confirm = lambda q: bool(questions.append(q))
            window.leave_button.click()
            assert "recording the room" in questions[-1]
            assert window.session is not None
            window.confirm = lambda q: True
            left = next_emission(window.joinedChanged)
            window.leave_button.click()
            assert await asyncio.wait_for(left, 60) == (False,)
            await eventually(lambda: statuses[-1], "STOPPED", within=30)
            assert not services.local.is_recording(room)
            stored = await services.catalog.list_recordings(info.room_id)
            assert all(r.id.startswith("LOCAL_") for r in stored)
            own = [r for r in stored if r.extra.get("kind") == "participant"]
            assert len(stored) - len(own) == 2
            assert sorted(r.extra["participant"] for r in own) == ["bot-1", "bot-2"]
            assert len({r.extra["session"] for r in own}) == 1

            # Quitting (a signal, the application ending) stops and uploads on the way out.
            joined = next_emission(window.joinedChanged)
            window.join_button.click()
            assert await asyncio.wait_for(joined, 20) == (True,)
            window.local_recording.each_participant.setChecked(False)  # the room's file only
            window.record_button.click()
            await eventually(lambda: window.status, RecordingStatus.STARTED, within=30)
            await asyncio.sleep(1.5)
            shut.append(True)
            await shutdown(window)  # what the application does once the window closed
            await eventually(lambda: statuses[-2:], ["STOPPING", "STOPPED"])
            try:  # the store was closed with the window: this reopens it for a moment
                assert len(await services.catalog.list_recordings(info.room_id)) == 5
            finally:
                await services.catalog.store.aclose()
        finally:
            await watcher.disconnect()
            await asyncio.gather(*(bot.stop() for bot in bots))
            if not shut:
                await shutdown(window)

    qloop.run_until_complete(scenario())


def test_the_window_uploads_what_a_crash_left_in_the_spool_and_says_so(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, tmp_path: Path,
    unused_tcp_port_factory: Callable[[], int],
) -> None:
    # A recorder process killed mid-recording (SIGKILL), as a crashed console would be.
    with subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.spooling_recorder", str(spool_dir()),
         "crashed room", "RM_crash"], stdout=subprocess.PIPE, cwd=Path(__file__).parents[2],
    ) as child:
        assert child.stdout is not None
        assert child.stdout.readline().startswith(b"recording LOCAL_")
        child.kill()
    settings = Settings.from_env({"LIVEKIT_URL": "http://127.0.0.1:9", "APP_NAME": TEST_APP,
                                  "RECORDINGS_STORAGE": "local", "REDIS_URL": "",
                                  "RECORDINGS_DIR": str(tmp_path / "store"),
                                  "SERVER_PORT": str(unused_tcp_port_factory())})
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    qapp.setQuitOnLastWindowClosed(False)  # as run_console has it
    window = open_window(settings)

    async def scenario() -> None:
        lifetime = asyncio.ensure_future(console_lifetime(window))
        log = window.event_log
        await eventually(lambda: "uploaded (" in log.toPlainText(), True, within=60)
        assert "on this computer: found crashed room-RM_crash-" in log.toPlainText()
        await eventually(lambda: window.recordings.model.total, 1, within=20)
        info = window.recordings.model.info(0)
        assert info.room_name == "crashed room"
        assert info.extra == {"recordedBy": "console"}
        assert info.duration > 2.0
        assert not list(spool_dir().glob("*.json"))
        closed = next_emission(window.closed)
        window.close()
        await closed
        await asyncio.wait_for(lifetime, 20)

    try:
        qloop.run_until_complete(scenario())
    finally:
        window.close()
        qapp.setQuitOnLastWindowClosed(True)


def test_a_connection_dropped_while_quitting_still_uploads_the_recording(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, livekit_server: StackConfig,
    minio_server: StackConfig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The console quits while recording here, and the room's connection drops as the
    recording is being finished (the server restarts, the moderator is removed): the
    recording is still finished and uploaded, and the quit ends without an error."""
    window, room = _window(qtbot, livekit_server, minio_server, "local-drop")
    services = window.services

    async def scenario() -> None:
        bots: list[PublisherBot] = []
        kicked: list[asyncio.Task[None]] = []
        try:
            joined = next_emission(window.joinedChanged)
            window.join_button.click()
            assert await asyncio.wait_for(joined, 20) == (True,)
            bots = await start_bots(livekit_server.livekit_url, API_KEY, API_SECRET, room, 1,
                                    BotOptions(width=320, height=180, fps=15))
            window.record_button.click()  # no egress service: recorded here
            await eventually(lambda: window.status, RecordingStatus.STARTED, within=30)
            assert window.room is not None
            assert window.room.session is not None
            identity = window.room.session.room.local_participant.identity
            left = next_emission(window.joinedChanged)

            def drop_when_stopping(event: RecordingStatusChanged) -> None:
                if event.status is RecordingStatus.STOPPING and not kicked:
                    kicked.append(asyncio.ensure_future(
                        services.server.remove_participant(room, identity)))

            # The upload waits for the room to have dropped, so the drop comes during the
            # stop however fast this machine finishes it.
            upload = services.local._upload

            async def upload_once_dropped(spooled: Any) -> Any:
                await asyncio.wait_for(asyncio.shield(left), 20)
                return await upload(spooled)

            monkeypatch.setattr(services.local, "_upload", upload_once_dropped)
            services.events.subscribe(RecordingStatusChanged, drop_when_stopping)
            await asyncio.sleep(1.5)
            await shutdown(window)  # what the application does once the window closed
            await asyncio.wait_for(kicked[0], 10)
            assert left.result() == (False,)  # the room did drop, during the stop
            assert "Disconnected from the room" in window.error_text
            try:  # the store was closed with the window: this reopens it for a moment
                stored = await services.catalog.list_recordings()
                assert [r.id[:6] for r in stored if r.room_name == room] == ["LOCAL_"]
            finally:
                await services.catalog.store.aclose()
        finally:
            await asyncio.gather(*(bot.stop() for bot in bots))

    qloop.run_until_complete(scenario())
