"""One participant's video: its newest frame painted, name below.

The tile keeps only the newest frame and asks for a repaint, which Qt coalesces, so
frames that arrive faster than the screen draws are dropped, never queued. An SDK
frame is converted by the SDK's native converter (libyuv) only when it is painted,
then drawn scaled: on a widget Qt would convert on the CPU anyway, and its
QVideoFrame.paint costs about twice as much (1.2 ms against 0.5 ms for 640x360 into
a 560x315 tile, measured here). It is converted to B,G,R,A bytes, which Qt's raster
engine draws as Format_RGB32 as they are: RGBA8888 it converts again on every draw
(drawing 640x360 into 354x199 took 0.1 ms against 0.3 ms, measured here). Frames
from Qt Multimedia (a camera preview) come through :attr:`sink` and are painted with
QVideoFrame.paint.

A frame may come with its capture time (the publisher's wall clock, when it sends
one); the tile then keeps how old each frame was when painted (:attr:`delays_ms`).
"""

from __future__ import annotations

import math
import sys
import time
from collections import deque

from livekit import rtc
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
)
from PySide6.QtMultimedia import QVideoFrame, QVideoSink
from PySide6.QtWidgets import QSizePolicy, QWidget

_BACKGROUND = QColor("#1d2330")
_SPEAKING = QColor("#3ccf91")
_LABEL_BG = QColor(0, 0, 0, 150)
# The SDK's BGRA is B,G,R,A in memory: Qt's RGB32 (0xffRRGGBB) on a little-endian CPU.
_PIXELS, _IMAGE_FORMAT = ((rtc.VideoBufferType.BGRA, QImage.Format.Format_RGB32)
                          if sys.byteorder == "little" else
                          (rtc.VideoBufferType.RGBA, QImage.Format.Format_RGBA8888))


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
        self.delays_ms: deque[float] = deque(maxlen=600)  # capture → painted, newest last
        self._captured_us = 0  # the capture time of the frame to paint next, if known
        self.sink = QVideoSink(self)
        self._frame = QVideoFrame()  # from the sink
        self._sdk_frame: rtc.VideoFrame | None = None  # from the room, not yet converted
        self._rgba: rtc.VideoFrame | None = None  # its conversion (the image's memory)
        self._image = QImage()
        self._label: QPixmap | None = None
        self._label_key: tuple[str, str, float] | None = None
        self.sink.videoFrameChanged.connect(self._on_frame)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 90)
        self.setAccessibleName(f"Video of {name}")

    def show_frame(self, frame: rtc.VideoFrame, captured_us: int = 0) -> None:
        """Keep an SDK frame as the one the tile paints next (any earlier one is dropped).

        ``captured_us``: when the publisher captured it (µs since the epoch), if known.
        """
        self._sdk_frame, self._frame = frame, QVideoFrame()
        self._captured_us = captured_us
        self.frames_received += 1
        self.update()

    def picture_height(self, source_width: int = 16, source_height: int = 9) -> int:
        """How many device pixels high a video of this shape is drawn here."""
        if self._rgba is not None:
            source_width, source_height = self._rgba.width, self._rgba.height
        return round(self._fit(source_width, source_height).height() * self.devicePixelRatioF())

    def _on_frame(self, frame: QVideoFrame) -> None:
        self._frame, self._sdk_frame, self._rgba = frame, None, None
        self.frames_received += 1
        self.update()

    def _current_image(self) -> QImage:
        """The newest SDK frame as an image, converted once however often it is painted."""
        frame, self._sdk_frame = self._sdk_frame, None
        if frame is not None and self._captured_us:
            self.delays_ms.append(time.time() * 1000 - self._captured_us / 1000)
        if frame is not None and frame.width > 0 and frame.height > 0:
            self._rgba = frame.convert(_PIXELS)
            self._image = QImage(self._rgba.data, self._rgba.width, self._rgba.height,
                                 self._rgba.width * 4, _IMAGE_FORMAT)
        return self._image if self._rgba is not None else QImage()

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
        image = self._current_image()
        if not image.isNull():
            painter.drawImage(self._fit(image.width(), image.height()), image)
            self.frames_shown += 1
        elif self._frame.isValid():
            viewport = self._frame.surfaceFormat().viewport()
            self._frame.paint(painter, self._fit(viewport.width(), viewport.height()),
                              QVideoFrame.PaintOptions())
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

    def _fit(self, width: int, height: int) -> QRectF:
        """A picture of this size scaled into the tile, keeping its aspect ratio."""
        width, height = max(1, width), max(1, height)
        scale = min(self.width() / width, self.height() / height)
        w, h = width * scale, height * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def _paint_label(self, painter: QPainter) -> None:
        label = self._label_pixmap()
        height = label.height() / label.devicePixelRatio()
        painter.drawPixmap(QPointF(8, self.height() - height - 8), label)

    def _label_pixmap(self) -> QPixmap:
        """The name label, drawn once per text, font and pixel ratio (text shaping costs
        more than the picture's own drawing when it is done for every frame)."""
        text = self.name + ("  · muted" if self.muted else "")
        ratio = self.devicePixelRatioF()
        key = (text, self.font().key(), ratio)
        if self._label is not None and self._label_key == key:
            return self._label
        font = QFont(self.font())
        font.setPointSizeF(max(8.0, font.pointSizeF()))
        metrics = QFontMetricsF(font)
        box = QRectF(0, 0, metrics.horizontalAdvance(text) + 16, metrics.height() + 6)
        label = QPixmap(math.ceil(box.width() * ratio), math.ceil(box.height() * ratio))
        label.setDevicePixelRatio(ratio)
        label.fill(Qt.GlobalColor.transparent)
        painter = QPainter(label)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setFont(font)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_LABEL_BG)
        painter.drawRoundedRect(box, 4, 4)
        painter.setPen(QColor("white"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.end()
        self._label, self._label_key = label, key
        return label
