"""The main window shell."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from recconsole.settings import Settings
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
