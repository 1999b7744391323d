"""The main window shell."""

from __future__ import annotations

import os
import signal

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from recconsole.settings import Settings
from recconsole.ui.app import close_on_signals
from recconsole.ui.main_window import MainWindow

pytestmark = pytest.mark.gui


def test_window_shows_where_the_console_is_pointed(qtbot: QtBot) -> None:
    settings = Settings.from_env({"LIVEKIT_URL": "wss://lk.example.org", "S3_BUCKET": "rec"})
    window = MainWindow(settings, room="daily")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)

    texts = {label.text() for label in window.findChildren(QLabel)}
    assert "wss://lk.example.org" in texts
    assert "daily" in texts
    assert any("bucket rec" in text for text in texts)
    assert "wss://lk.example.org" in window.statusBar().currentMessage()
    assert "secret" not in " ".join(texts)


def test_sigterm_closes_the_window_like_the_user_would(qtbot: QtBot) -> None:
    window = MainWindow(Settings())
    qtbot.addWidget(window)
    window.show()
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
