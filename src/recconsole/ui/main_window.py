"""The console's main window."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QMainWindow, QVBoxLayout, QWidget

from recconsole import __version__
from recconsole.settings import Settings


class MainWindow(QMainWindow):
    """The console window: for now, where the console is pointed.

    Signals:
        closed: the window has closed (the application ends with it).
    """

    closed = Signal()

    def __init__(self, settings: Settings, room: str | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.setWindowTitle(f"recconsole {__version__}")
        self.resize(1100, 720)

        title = QLabel("Recording console")
        title.setObjectName("title")
        subtitle = QLabel("Join a LiveKit or OpenVidu room, record it, and manage its recordings.")
        subtitle.setObjectName("subtitle")

        card = QFrame()
        card.setObjectName("card")
        form = QFormLayout(card)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("LiveKit server", QLabel(settings.livekit_url))
        form.addRow("API key", QLabel(settings.livekit_api_key))
        form.addRow("Recordings", QLabel(
            f"{settings.s3_endpoint}  ·  bucket {settings.s3_bucket}  ·  {settings.recordings_path}"
        ))
        form.addRow("Playback", QLabel(settings.recording_playback_strategy))
        form.addRow("Webhooks", QLabel(
            f"http://127.0.0.1:{settings.server_port}/livekit/webhook"
        ))
        if room:
            form.addRow("Room", QLabel(room))
        for label in card.findChildren(QLabel):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(32, 28, 32, 28)
        layout.setSpacing(10)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addSpacing(12)
        layout.addWidget(card)
        layout.addStretch(1)
        self.setCentralWidget(body)
        self.statusBar().showMessage(f"Not connected  ·  {settings.livekit_url}")

    def closeEvent(self, event: QCloseEvent) -> None:
        super().closeEvent(event)
        if event.isAccepted():
            self.closed.emit()
