"""Playing one recording with Qt Multimedia: play/pause, seek, time, volume, full screen.

The source URL comes from a resolver (a presigned S3 URL, an Azure SAS URL or the
console's own PROXY route). When playback fails with a resource or network error,
for example because a presigned URL lapsed mid-session, a fresh URL is resolved and
playback resumes at the same position.

The recording's thumbnail, when there is one, is shown as a poster until the first
frame arrives.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QImage, QKeySequence, QPixmap, QResizeEvent, QShortcut
from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer, QVideoFrame
from PySide6.QtMultimediaWidgets import QVideoWidget
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from recconsole.ui.tasks import AsyncRunner

MAX_RENEWALS = 3
EARLY_END_MS = 1500  # an end this far before the duration is a broken stream


def clock(ms: int) -> str:
    seconds = max(0, ms) // 1000
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class PlayerWindow(QWidget):
    """A window playing one recording.

    Signals:
        renewed(int): the source URL was resolved again; playback resumes at this ms.
        first_frame(): the first picture arrived and took the poster's place.
    """

    renewed = Signal(int)
    first_frame = Signal()

    def __init__(self, name: str, resolve_url: Callable[[], Coroutine[Any, Any, str]],
                 runner: AsyncRunner, parent: QWidget | None = None, *,
                 poster: bytes | None = None) -> None:
        super().__init__(parent)
        self.name, self._resolve, self.runner = name, resolve_url, runner
        self.setWindowTitle(f"{name} · recconsole")
        self.resize(900, 560)
        self.player = QMediaPlayer(self)
        self.audio = QAudioOutput(self)
        self.player.setAudioOutput(self.audio)
        self.video = QVideoWidget()
        self.player.setVideoOutput(self.video)
        # The thumbnail until the first frame (the video widget gets frames hidden too).
        self._poster = QImage.fromData(poster) if poster else QImage()
        self.poster = QLabel()
        self.poster.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.poster.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.poster.setStyleSheet("background: black;")
        self.screen_stack = QStackedWidget()
        self.screen_stack.addWidget(self.poster)
        self.screen_stack.addWidget(self.video)
        self.screen_stack.setCurrentWidget(self.video if self._poster.isNull() else self.poster)
        self.video.videoSink().videoFrameChanged.connect(self._frame)
        self._renewals = 0
        self._resume_at: int | None = None
        # Where playback was: after a failed source the player itself reports 0.
        self.last_position = 0

        self.play_button = QPushButton("Play")
        self.seek = QSlider(Qt.Orientation.Horizontal)
        self.time = QLabel("0:00:00 / 0:00:00")
        self.volume = QSlider(Qt.Orientation.Horizontal)
        self.volume.setRange(0, 100)
        self.volume.setValue(80)
        self.volume.setMaximumWidth(120)
        self.full_screen = QPushButton("Full screen")
        self.status = QLabel()
        self.status.setObjectName("subtitle")
        controls = QHBoxLayout()
        for widget in (self.play_button, self.seek, self.time, QLabel("Volume"), self.volume,
                       self.full_screen):
            controls.addWidget(widget, 1 if widget is self.seek else 0)
        layout = QVBoxLayout(self)
        layout.addWidget(self.screen_stack, 1)
        layout.addLayout(controls)
        layout.addWidget(self.status)

        self.audio.setVolume(0.8)
        self.play_button.clicked.connect(self.toggle)
        self.seek.sliderMoved.connect(self.player.setPosition)
        self.volume.valueChanged.connect(lambda v: self.audio.setVolume(v / 100))
        self.full_screen.clicked.connect(self.toggle_full_screen)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.showNormal)
        QShortcut(QKeySequence(Qt.Key.Key_Space), self, self.toggle)
        self.player.positionChanged.connect(self._position)
        self.player.durationChanged.connect(lambda d: self.seek.setRange(0, d))
        self.player.playbackStateChanged.connect(self._state)
        self.player.mediaStatusChanged.connect(self._media_status)
        self.player.errorOccurred.connect(self._error)

    @property
    def showing_poster(self) -> bool:
        """Whether the thumbnail shows (no frame has arrived yet)."""
        return self.screen_stack.currentWidget() is self.poster

    def _frame(self, frame: QVideoFrame) -> None:
        if frame.isValid() and self.screen_stack.currentWidget() is not self.video:
            self.screen_stack.setCurrentWidget(self.video)
            self.first_frame.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        """A closed player stops: no sound goes on from a window no longer shown."""
        self.player.stop()
        super().closeEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if not self._poster.isNull():
            self.poster.setPixmap(QPixmap.fromImage(self._poster).scaled(
                self.poster.size(), Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))

    def open(self) -> None:
        """Resolve the source and start playing."""
        self.status.setText("Opening…")
        self.runner.run(self._resolve(), on_success=self._play, on_failure=self.status.setText)

    def _play(self, url: str) -> None:
        self.player.setSource(QUrl(url))
        self.player.play()

    def toggle(self) -> None:
        if self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState:
            self.player.pause()
        else:
            self.player.play()

    def toggle_full_screen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()

    def _position(self, ms: int) -> None:
        if ms > 0 and self._resume_at is None:
            self.last_position = ms
        if not self.seek.isSliderDown():
            self.seek.setValue(ms)
        self.time.setText(f"{clock(ms)} / {clock(self.player.duration())}")

    def _state(self, state: QMediaPlayer.PlaybackState) -> None:
        playing = state == QMediaPlayer.PlaybackState.PlayingState
        self.play_button.setText("Pause" if playing else "Play")
        if playing:
            self.status.clear()

    def _media_status(self, status: QMediaPlayer.MediaStatus) -> None:
        duration = self.player.duration()
        if (status == QMediaPlayer.MediaStatus.EndOfMedia and duration > 0
                and self.last_position < duration - EARLY_END_MS):
            # The stream broke off (FFmpeg may report a failed read as the end): the
            # link lapsed or the network dropped; get a new one and go on.
            self._renew("the stream ended early")
            return
        # Qt's FFmpeg backend drops a seek made before the new source buffers.
        if status == QMediaPlayer.MediaStatus.BufferedMedia and self._resume_at is not None:
            self.player.setPosition(self._resume_at)
            self._resume_at = None
            self.player.play()

    def _error(self, error: QMediaPlayer.Error, message: str) -> None:
        renewable = error in (QMediaPlayer.Error.ResourceError, QMediaPlayer.Error.NetworkError,
                              QMediaPlayer.Error.AccessDeniedError)
        if not renewable:
            self.status.setText(f"Cannot play {self.name}: {message or error.name}")
            return
        self._renew(message or error.name)

    def _renew(self, why: str) -> None:
        if self._renewals >= MAX_RENEWALS:
            self.status.setText(f"Cannot play {self.name}: {why}")
            return
        self._renewals += 1
        position = max(self.player.position(), self.last_position)
        self.status.setText("The link expired or failed; getting a new one…")
        self.runner.run(self._resolve(), on_success=lambda url: self._resume(url, position),
                        on_failure=self.status.setText)

    def _resume(self, url: str, position: int) -> None:
        self.renewed.emit(position)
        if not position:
            self._play(url)
            return
        # Paused until the new source buffered and sought: it never shows the start again.
        self._resume_at = position
        self.player.setSource(QUrl(url))
        self.player.pause()
