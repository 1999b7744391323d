"""One participant's video: a QVideoSink whose newest frame is painted, name below.

Frames go into the tile's QVideoSink; the widget keeps only the newest one and asks
for a repaint, which Qt coalesces, so frames that arrive faster than the screen
draws are dropped, never queued. QVideoFrame.paint converts in C++ (or on the GPU).
"""

from __future__ import annotations

from livekit import rtc
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen
from PySide6.QtMultimedia import QVideoFrame, QVideoFrameFormat, QVideoSink
from PySide6.QtWidgets import QSizePolicy, QWidget

from recconsole.ui.video_frames import to_qvideoframe

_BACKGROUND = QColor("#1d2330")
_SPEAKING = QColor("#3ccf91")
_LABEL_BG = QColor(0, 0, 0, 150)


class VideoTile(QWidget):
    """Shows the newest frame of one video track with its participant's name.

    Signals: none (frames arrive through :meth:`show_frame` or :attr:`sink`).
    """

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.muted = False
        self.speaking = False
        self.frames_received = 0
        self.frames_shown = 0
        self.sink = QVideoSink(self)
        self._frame = QVideoFrame()
        self._formats: dict[tuple[int, int], QVideoFrameFormat] = {}
        self.sink.videoFrameChanged.connect(self._on_frame)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 90)
        self.setAccessibleName(f"Video of {name}")

    def show_frame(self, frame: rtc.VideoFrame) -> None:
        """Hand an SDK frame to the sink (the one the tile paints next)."""
        qframe = to_qvideoframe(frame, self._formats)
        if qframe is not None:
            self.sink.setVideoFrame(qframe)

    def _on_frame(self, frame: QVideoFrame) -> None:
        self._frame = frame
        self.frames_received += 1
        self.update()

    def set_state(self, *, muted: bool | None = None, speaking: bool | None = None) -> None:
        if muted is not None:
            self.muted = muted
        if speaking is not None:
            self.speaking = speaking
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), _BACKGROUND)
        if self._frame.isValid():
            self._frame.paint(painter, self._fit(), QVideoFrame.PaintOptions())
            self.frames_shown += 1
        else:
            painter.setPen(QColor("#8b93a7"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "waiting for video…")
        self._paint_label(painter)
        if self.speaking:
            painter.setBrush(Qt.BrushStyle.NoBrush)  # an outline: the label's brush would fill
            painter.setPen(QPen(_SPEAKING, 3))
            painter.drawRoundedRect(QRectF(self.rect()).adjusted(1.5, 1.5, -1.5, -1.5), 6, 6)
        painter.end()

    def _fit(self) -> QRectF:
        """The frame's viewport scaled into the tile, keeping its aspect ratio."""
        viewport = self._frame.surfaceFormat().viewport()
        width, height = max(1, viewport.width()), max(1, viewport.height())
        scale = min(self.width() / width, self.height() / height)
        w, h = width * scale, height * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def _paint_label(self, painter: QPainter) -> None:
        text = self.name + ("  · muted" if self.muted else "")
        font = QFont(self.font())
        font.setPointSizeF(max(8.0, font.pointSizeF()))
        painter.setFont(font)
        metrics = painter.fontMetrics()
        box = QRectF(8, self.height() - metrics.height() - 14,
                     metrics.horizontalAdvance(text) + 16, metrics.height() + 6)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_LABEL_BG)
        painter.drawRoundedRect(box, 4, 4)
        painter.setPen(QColor("white"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
