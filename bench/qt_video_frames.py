"""LiveKit I420 frames into Qt video frames, with no per-pixel work in Python.

The SDK packs an I420 frame tightly: Y rows of ``width`` bytes, then U and V planes of
``(width + 1) // 2`` x ``(height + 1) // 2``. Qt may pad its rows (a 638-wide Y plane
gets 640 bytes per line), and for an odd height it keeps one chroma row fewer (180 for
a 361-row frame) and leaves the last row black. So odd sizes are rounded up to even
ones, with the real size as the frame's viewport and the last row or column repeated
into the padding. Planes are copied with numpy, row-wise only when the layouts differ;
Qt converts to RGB on the GPU (or its own CPU path) when it draws.

This is the Qt Multimedia path for SDK frames (a QVideoSink, e.g. for a QVideoWidget
or Qt Quick), kept here as the alternative ``bench/render.py`` compares: room tiles,
which paint on a widget, take the SDK's own RGBA conversion instead (ui/video_tile.py).
"""

from __future__ import annotations

import numpy as np
from livekit import rtc
from PySide6.QtCore import QRect, QSize
from PySide6.QtMultimedia import QVideoFrame, QVideoFrameFormat

_YUV420P = QVideoFrameFormat.PixelFormat.Format_YUV420P
MIN_SIDE = 2  # Qt's YUV420P handling divides by zero below 2x2


def i420_planes(frame: rtc.VideoFrame) -> list[tuple[np.ndarray, int, int]]:
    """The SDK frame's Y, U and V planes as (bytes, width, rows)."""
    w, h = frame.width, frame.height
    cw, ch = (w + 1) // 2, (h + 1) // 2
    data = np.frombuffer(frame.data, np.uint8)
    y_end, u_end = w * h, w * h + cw * ch
    return [(data[:y_end], w, h), (data[y_end:u_end], cw, ch),
            (data[u_end:u_end + cw * ch], cw, ch)]


def to_qvideoframe(frame: rtc.VideoFrame, formats: dict[tuple[int, int], QVideoFrameFormat]
                   ) -> QVideoFrame | None:
    """A QVideoFrame holding ``frame``'s pixels; None for frames too small to show.

    ``formats`` caches the QVideoFrameFormat per size between calls.
    """
    size = (frame.width, frame.height)
    if min(size) < MIN_SIDE or frame.type != rtc.VideoBufferType.I420:
        return None
    fmt = formats.get(size)
    if fmt is None:
        fmt = formats[size] = _format(*size)
    out = QVideoFrame(fmt)
    if not out.map(QVideoFrame.MapMode.WriteOnly):
        return None
    try:
        for index, (plane, width, rows) in enumerate(i420_planes(frame)):
            stride = out.bytesPerLine(index)
            room = out.mappedBytes(index) // stride
            target = np.frombuffer(out.bits(index), np.uint8)
            if stride == width and room == rows:
                target[: width * rows] = plane
                continue
            grid = target[: stride * room].reshape(room, stride)
            grid[:rows, :width] = plane.reshape(rows, width)
            if room > rows:  # odd height: repeat the last row into the padding
                grid[rows:, :width] = grid[rows - 1, :width]
            if stride > width:  # odd width (or padded rows): repeat the last column
                grid[:, width] = grid[:, width - 1]
    finally:
        out.unmap()
    return out


def _format(width: int, height: int) -> QVideoFrameFormat:
    fmt = QVideoFrameFormat(QSize(width + width % 2, height + height % 2), _YUV420P)
    fmt.setViewport(QRect(0, 0, width, height))
    return fmt
