"""The main window: the join form, closing, and messages (no server needed)."""

from __future__ import annotations

import os
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
    assert "wss://lk.example.org" in window.statusBar().currentMessage()
    assert not window.record_button.isEnabled()  # nothing to record before joining
    assert "secret" not in " ".join(texts)


def test_joining_without_a_room_name_says_so(window: MainWindow) -> None:
    window.room_input.setEditText("  ")
    window.join_button.click()
    assert window.statusBar().currentMessage() == "Type the name of the room to join."
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
    window._on_metadata({"recordingStatus": status.value, "recordingError": "disk full"})
    assert label in window.badge.text()
    assert window.record_button.text() == button
    if status is RecordingStatus.STARTED:
        assert window.clock.text() == "00:00:00"
    if status is RecordingStatus.FAILED:
        assert "disk full" in window.statusBar().currentMessage()


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
    window.room_name = "daily"
    window.bridge.metadataChanged.emit({"createdBy": window.settings.app_name,
                                        "recordingStatus": "STARTING"})
    window.services.events.publish(StatusPolled("other-room", "EG_1", RecordingStatus.STARTED))
    assert "Webhooks" not in window.statusBar().currentMessage()
    window.services.events.publish(StatusPolled("daily", "EG_1", RecordingStatus.STARTED))
    message = window.statusBar().currentMessage()
    assert "Webhooks are not reaching this console" in message
    assert "STARTED" in message
    assert "Webhooks are not reaching" in window.event_log.toPlainText()


def test_a_polled_status_in_another_apps_room_says_why_webhooks_are_left_alone(
    window: MainWindow,
) -> None:
    window.room_name = "daily"
    window.bridge.metadataChanged.emit({})  # a room some participant's app created
    window.services.events.publish(StatusPolled("daily", "EG_1", RecordingStatus.STARTED))
    message = window.statusBar().currentMessage()
    assert "Webhooks are not reaching" not in message
    assert f"was not created by {window.settings.app_name}" in message


def test_a_recording_deleted_from_one_table_leaves_the_other(window: MainWindow) -> None:
    rows = [RecordingInfo(f"EG_{i}", f"daily-RM_a-2026-11-2{i}T100000.mp4", "daily", "RM_a",
                          1_794_000_000_000 + i, 60.0, 1024) for i in range(3)]
    for page in (window.recordings, window.room_recordings):
        page.model.merge(rows)
    window.room_recordings.removed.emit([rows[0].name])  # deleted from this room's table
    window.recordings.removed.emit([rows[1].name])  # deleted from All recordings
    assert [window.recordings.model.has(r.name) for r in rows] == [False, True, True]
    assert [window.room_recordings.model.has(r.name) for r in rows] == [True, False, True]
