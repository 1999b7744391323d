"""The console's composition root: Qt application, asyncio loop (qasync) and main window."""

from __future__ import annotations

import asyncio
import sys

import qasync
from PySide6.QtWidgets import QApplication

from recconsole import APP_NAME, __version__
from recconsole.settings import Settings
from recconsole.ui.main_window import MainWindow
from recconsole.ui.resources import load_stylesheet


def create_application() -> QApplication:
    """The QApplication, named and styled; reused if one already exists (tests)."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setStyleSheet(load_stylesheet())
    return app


def run_console(settings: Settings, room: str | None = None) -> int:
    """Open the main window and run Qt and asyncio in one loop until it closes."""
    app = create_application()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow(settings, room=room)
    window.show()
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    with loop:
        loop.run_until_complete(closed.wait())
    return 0
