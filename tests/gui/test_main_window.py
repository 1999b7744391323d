"""The main window: the join form, closing, and messages (no server needed)."""

from __future__ import annotations

import os
import re
import signal

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from recconsole.core.events import StatusPolled
from recconsole.core.recording_info import RecordingInfo
from recconsole.core.recording_status import RecordingStatus
from recconsole.settings import Settings
from recconsole.ui.app import build_services, close_on_signals
from recconsole.ui.main_window import MainWindow

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot: QtBot) -> MainWindow:
    settings = Settings.from_env({"LIVEKIT_URL": "wss://lk.example.org"})
    main = MainWindow(build_services(settings), room="daily")
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    return main


def test_join_form_offers_the_room_and_the_server(window: MainWindow) -> None:
    texts = {label.text() for label in window.findChildren(QLabel)}
    assert "wss://lk.example.org" in texts
    assert window.room_input.currentText() == "daily"
    assert "wss://lk.example.org" in window.connection.text()
    assert window.room is None  # nothing to record before joining
    assert window.pages.currentIndex() == 0  # the welcome, no room's tab
    assert "secret" not in " ".join(texts)


def test_joining_without_a_room_name_says_so(window: MainWindow) -> None:
    window.room_input.setEditText("  ")
    window.join_button.click()
    assert window.error_text.endswith("  Type the name of the room to join.")
    assert window.join_button.isEnabled()


@pytest.mark.parametrize(
    ("status", "label", "button"),
    [(RecordingStatus.STARTED, "Recording", "Stop recording"),
     (RecordingStatus.STARTING, "Starting…", "Start recording"),
     (RecordingStatus.FAILED, "Failed", "Start recording"),
     (RecordingStatus.STOPPED, "Not recording", "Start recording")],
)
def test_badge_and_button_follow_the_room_status(
    window: MainWindow, status: RecordingStatus, label: str, button: str
) -> None:
    room = window._open_room("daily")  # as while joining: the room's unit, not connected
    assert not room.record_button.isEnabled()  # nothing to record before it is joined
    room._on_metadata({"recordingStatus": status.value, "recordingError": "disk full"})
    assert label in room.badge.text()
    assert room.record_button.text() == button
    if status is RecordingStatus.STARTED:
        assert room.clock.text() == "00:00:00"
    if status is RecordingStatus.FAILED:
        assert "disk full" in window.error_text


def test_sigterm_closes_the_window_like_the_user_would(
    window: MainWindow, qtbot: QtBot
) -> None:
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        close_on_signals(window)
        with qtbot.waitSignal(window.closed, timeout=5000):
            os.kill(os.getpid(), signal.SIGTERM)
    finally:
        signal.set_wakeup_fd(-1)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert not window.isVisible()


def test_a_polled_status_says_webhooks_are_not_arriving(window: MainWindow) -> None:
    room = window._open_room("daily")
    room.bridge.metadataChanged.emit({"createdBy": window.settings.app_name,
                                        "recordingStatus": "STARTING"})
    window.services.events.publish(StatusPolled("other-room", "EG_1", RecordingStatus.STARTED))
    assert "Webhooks" not in window.error_text
    window.services.events.publish(StatusPolled("daily", "EG_1", RecordingStatus.STARTED))
    message = window.error_text
    assert "Webhooks are not reaching this console" in message
    assert "STARTED" in message
    assert "Webhooks are not reaching" in window.event_log.toPlainText()


def test_errors_stay_until_dismissed_and_count_the_earlier_ones(window: MainWindow) -> None:
    window.show_error("The credentials were rejected by the server.")
    window.show_error("Recording is not available on this server.")
    assert window.error_banner.isVisible()
    assert re.match(r"\d\d:\d\d:\d\d  Recording is not available on this server\."
                    r"  \(1 earlier in the event log\)$", window.error_text)
    log = window.event_log.toPlainText()
    assert "credentials were rejected" in log
    assert "not available" in log
    window.dismiss_button.click()
    assert not window.error_banner.isVisible()
    assert window.error_text == ""
    window.show_error("Cannot reach the LiveKit server.")
    assert "earlier" not in window.error_text  # counted again from the dismissal


def test_a_start_says_what_it_waits_for_and_for_how_long(window: MainWindow) -> None:
    room = window._open_room("daily")
    room._stage_text = "the egress is joining the room and waiting for its media"
    room._on_metadata({"recordingStatus": "STARTING"})
    assert room.stage.text() == "0 s · the egress is joining the room and waiting for its media"
    assert "20 s after Start is stopped and marked Failed" in room.stage.toolTip()
    room._since -= 7  # seven seconds later
    room._tick()
    assert room.stage.text().startswith("7 s · ")
    room._on_metadata({"recordingStatus": "STARTED"})
    assert room.stage.text() == ""


def test_leaving_resets_the_badge_and_the_window_forgets_the_room(window: MainWindow) -> None:
    room = window._open_room("daily")
    room._on_metadata({"recordingStatus": "STARTED"})
    assert window.status is RecordingStatus.STARTED
    room._left()
    assert room.status is RecordingStatus.STOPPED
    assert "Not recording" in room.badge.text()
    assert room.clock.text() == ""
    assert window.room is None
    assert window.status is RecordingStatus.STOPPED
    assert window.join_button.isEnabled()


@pytest.mark.parametrize(
    ("reason", "words"),
    [("CLIENT_INITIATED", "you left the room"),
     ("PARTICIPANT_REMOVED", "you were removed from the room"),
     ("SERVER_SHUTDOWN", "the LiveKit server shut down")],
)
def test_a_disconnection_is_said_in_words_and_stays_in_the_status_bar(
    window: MainWindow, reason: str, words: str
) -> None:
    room = window._open_room("daily")
    room._on_state("connected", "")
    assert window.connection.text().startswith("Connected to daily")
    room._on_metadata({"recordingStatus": "STARTED"})  # a message does not replace it
    window.statusBar().showMessage("Settings saved", 1000)
    assert window.connection.text().startswith("Connected to daily")
    room._on_state("disconnected", reason)
    assert window.connection.text().startswith(f"Disconnected: {words}")
    assert reason not in window.connection.text()


def test_a_recording_deleted_from_one_table_leaves_the_other(window: MainWindow) -> None:
    rows = [RecordingInfo(f"EG_{i}", f"daily-RM_a-2026-11-2{i}T100000.mp4", "daily", "RM_a",
                          1_794_000_000_000 + i, 60.0, 1024) for i in range(3)]
    room = window._open_room("daily")
    for page in (window.recordings, room.room_recordings):
        page.model.merge(rows)
    room.room_recordings.removed.emit([rows[0].name])  # deleted from this room's table
    window.recordings.removed.emit([rows[1].name])  # deleted from All recordings
    assert [window.recordings.model.has(r.name) for r in rows] == [False, True, True]
    assert [room.room_recordings.model.has(r.name) for r in rows] == [True, False, True]


def test_one_room_is_heard_at_a_time_the_one_chosen_last(window: MainWindow) -> None:
    first = window._open_room("first")
    window._room_joined(first)  # as when its connection is made
    assert window.speaker is first
    second = window._open_room("second")
    assert second.audio.muted  # joins muted: the first room is heard
    window._room_joined(second)
    tabs = window.room_tabs
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["🔊 first", "second"]
    assert window.room is second  # the room joined last is shown

    second.sound_button.click()  # the moderator chooses the second room
    assert window.speaker is second
    assert first.audio.muted
    assert not second.audio.muted
    assert first.sound_button.text() == "Sound off"
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["first", "🔊 second"]
    first._on_metadata({"recordingStatus": "STARTED"})  # each tab says if it is recorded
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["first ●", "🔊 second"]
    assert "Recording: STARTED" in tabs.tabToolTip(0)
    first._on_metadata({"recordingStatus": "STOPPED"})
    assert tabs.tabText(0) == "first"

    second._left()
    assert tabs.count() == 1
    assert window.room is first
    assert window.speaker is None  # nobody is heard until the moderator says so
    assert window.join_card.isHidden()
    first._left()
    assert window.room is None
    assert not window.join_card.isHidden()
