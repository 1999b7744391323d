"""SDK I420 frames become Qt video frames with the right pixels, odd sizes included."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from livekit import rtc
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtMultimedia import QVideoFrame, QVideoFrameFormat, QVideoSink
from pytestqt.qtbot import QtBot

from recconsole.ui.video_frames import i420_planes, to_qvideoframe

pytestmark = pytest.mark.gui


def _frame(width: int, height: int, y: int, u: int, v: int) -> rtc.VideoFrame:
    cw, ch = (width + 1) // 2, (height + 1) // 2
    data = bytes([y]) * (width * height) + bytes([u]) * (cw * ch) + bytes([v]) * (cw * ch)
    return rtc.VideoFrame(width, height, rtc.VideoBufferType.I420, data)


def _gradient(width: int, height: int) -> rtc.VideoFrame:
    cw, ch = (width + 1) // 2, (height + 1) // 2
    rng = np.random.default_rng(7)
    data = rng.integers(0, 256, width * height + 2 * cw * ch, dtype=np.uint8)
    return rtc.VideoFrame(width, height, rtc.VideoBufferType.I420, data.tobytes())


@pytest.mark.parametrize(("width", "height"), [(640, 360), (638, 361), (641, 359), (2, 2)])
def test_every_plane_row_lands_where_qt_reads_it(
    qapp: QGuiApplication, width: int, height: int
) -> None:
    source = _gradient(width, height)
    out = to_qvideoframe(source, {})
    assert out is not None
    viewport = out.surfaceFormat().viewport()
    assert (viewport.x(), viewport.y(), viewport.width(), viewport.height()) == (
        0, 0, width, height)
    assert (out.width() - width, out.height() - height) == (width % 2, height % 2)
    assert out.map(QVideoFrame.MapMode.ReadOnly)
    try:
        for index, (plane, plane_width, rows) in enumerate(i420_planes(source)):
            stride = out.bytesPerLine(index)
            assert out.mappedBytes(index) // stride >= rows  # every chroma row kept
            got = np.frombuffer(out.bits(index), np.uint8)[: stride * rows]
            got = got.reshape(rows, stride)[:, :plane_width]
            assert np.array_equal(got, plane.reshape(rows, plane_width))
    finally:
        out.unmap()


@pytest.mark.parametrize(("width", "height"), [(640, 360), (638, 361)])
def test_colours_survive_the_conversion(qapp: QGuiApplication, width: int, height: int) -> None:
    # BT.601 limited range: Y=81 U=90 V=240 is pure red.
    out = to_qvideoframe(_frame(width, height, 81, 90, 240), {})
    assert out is not None
    image = out.toImage()
    for x, y in ((0, 0), (width - 1, height - 1), (width // 2, height - 1), (width - 1, 0)):
        colour = QColor(image.pixel(x, y))
        assert colour.red() > 200, (x, y, colour.name())
        assert colour.green() < 60, (x, y, colour.name())
        assert colour.blue() < 60, (x, y, colour.name())


def test_frames_too_small_for_qt_are_skipped(qapp: QGuiApplication) -> None:
    assert to_qvideoframe(_frame(1, 1, 0, 0, 0), {}) is None
    assert to_qvideoframe(_frame(1, 9, 0, 0, 0), {}) is None


def test_a_sink_receives_the_frame(qtbot: QtBot) -> None:
    sink = QVideoSink()
    formats: dict[tuple[int, int], QVideoFrameFormat] = {}
    with qtbot.waitSignal(sink.videoFrameChanged, timeout=2000) as changed:
        frame = to_qvideoframe(_frame(320, 180, 120, 128, 128), formats)
        assert frame is not None
        sink.setVideoFrame(frame)
    assert changed.args[0].size().width() == 320
    assert list(formats) == [(320, 180)]


def test_the_frame_path_keeps_reference_counts_intact(qapp: QGuiApplication) -> None:
    # PySide6 6.12.0 dropped a reference to None in QVideoFrame.unmap() and
    # QVideoSink.setVideoFrame() on every call: the console aborted after some minutes.
    sink = QVideoSink()
    frame = _frame(64, 36, 100, 128, 128)

    def show(count: int) -> None:
        for _ in range(count):
            qframe = to_qvideoframe(frame, {})
            assert qframe is not None
            sink.setVideoFrame(qframe)

    show(20)  # caches and the like settle first
    before = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    show(1000)
    after = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    # A per-call leak moves these by 1,000 or more; a few stray references are no leak.
    assert all(abs(a - b) < 20 for a, b in zip(after, before, strict=True)), (before, after)
