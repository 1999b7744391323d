"""What the console shows first: a window at once, saying what loads, while the rest loads.

Importing the LiveKit SDK, the storage clients, the web server and the asyncio bridge
takes several times as long as showing a window. This module imports only Qt's widgets
and the packaged stylesheet and icon, so its window is on screen before any of that
starts; the main window then takes its place, the same size at the same place.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QVBoxLayout, QWidget

from recconsole import APP_NAME, __version__
from recconsole.ui.resources import load_stylesheet, window_icon

WINDOW_SIZE = (1200, 780)  # the main window's first size, which takes this one's place


def create_application() -> QApplication:
    """The QApplication, named and styled; reused if one already exists (tests)."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setStyleSheet(load_stylesheet())
    app.setWindowIcon(window_icon())
    return app


class FirstScreen(QMainWindow):
    """The console's window while its parts load: its title, and what it is loading."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle(f"recconsole {__version__}")
        self.resize(*WINDOW_SIZE)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addStretch(2)
        icon = QLabel()
        icon.setPixmap(window_icon().pixmap(72, 72))
        title = QLabel("recconsole")
        title.setObjectName("title")
        self.stage = QLabel("Starting…")
        self.stage.setObjectName("subtitle")
        for label in (icon, title, self.stage):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            layout.addWidget(label)
        layout.addStretch(3)
        self.setCentralWidget(body)

    def say(self, stage: str) -> None:
        """Show what loads now, painted before the (blocking) loading goes on."""
        self.stage.setText(stage)
        self.stage.repaint()


def show_first_screen(app: QApplication) -> FirstScreen:
    """The first screen, shown and exposed (on screen) when this returns."""
    screen = FirstScreen()
    screen.show()
    while not screen.windowHandle().isExposed():
        app.processEvents()
    return screen
