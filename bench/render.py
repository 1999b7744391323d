"""Video path overhead: a 1280x720 I420 frame from the SDK onto the screen.

Measures per frame, against a plain copy of the same bytes in the same run (the
floor any path must pay), offscreen Qt with no GPU:
- sink: the SDK frame into a QVideoFrame (plane copies, no per-pixel Python) handed
  to a QVideoSink — the Qt Multimedia path. Target: ≤ 0.5 ms median per frame.
- tile: what a room tile pays from a frame's arrival to its picture drawn at
  640x360 — through the QVideoSink path (QVideoFrame.paint), and through the path
  tiles use (the SDK's native RGBA conversion, then QPainter.drawImage).

    QT_QPA_PLATFORM=offscreen python -m bench.render [--frames 600]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from livekit import rtc

from recconsole_devtools.bot import MovingPattern


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--size", default="1280x720")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtMultimedia import QVideoFrameFormat, QVideoSink
    from PySide6.QtWidgets import QApplication

    from bench.qt_video_frames import to_qvideoframe

    app = QApplication.instance() or QApplication([])
    width, height = (int(v) for v in args.size.split("x"))
    pattern = MovingPattern(width, height, hue=40)
    frames: list[rtc.VideoFrame] = [pattern.next_frame() for _ in range(30)]
    sink = QVideoSink()
    formats: dict[tuple[int, int], QVideoFrameFormat] = {}
    shown = 0

    def count() -> None:
        nonlocal shown
        shown += 1

    sink.videoFrameChanged.connect(count)
    path, floor = [], []
    for i in range(args.frames):
        frame = frames[i % len(frames)]
        started = time.perf_counter()
        qframe = to_qvideoframe(frame, formats)
        assert qframe is not None
        sink.setVideoFrame(qframe)
        path.append(time.perf_counter() - started)
        started = time.perf_counter()
        np.frombuffer(frame.data, np.uint8).copy()
        floor.append(time.perf_counter() - started)
        app.processEvents()
    print(f"{width}x{height} I420 -> QVideoFrame -> QVideoSink   median "
          f"{_median_ms(path):.3f} ms  p99 {sorted(path)[int(len(path) * .99)] * 1000:.3f} ms"
          f"   target ≤ 0.5 ms: {'met' if _median_ms(path) <= 0.5 else 'missed'}")
    print(f"baseline: copy of the same bytes          median {_median_ms(floor):.3f} ms"
          f"   path / baseline {_median_ms(path) / _median_ms(floor):.1f}x")
    print(f"frames the sink announced: {shown} of {args.frames}")

    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtMultimedia import QVideoFrame

    canvas = QImage(640, 360, QImage.Format.Format_RGB32)
    area = QRectF(0, 0, 640, 360)
    via_sink, via_sdk = [], []
    for i in range(args.frames):
        frame = frames[i % len(frames)]
        started = time.perf_counter()
        qframe = to_qvideoframe(frame, formats)
        assert qframe is not None
        painter = QPainter(canvas)
        qframe.paint(painter, area, QVideoFrame.PaintOptions())
        painter.end()
        via_sink.append(time.perf_counter() - started)
        started = time.perf_counter()
        rgba = frame.convert(rtc.VideoBufferType.RGBA)
        image = QImage(rgba.data, rgba.width, rgba.height, rgba.width * 4,
                       QImage.Format.Format_RGBA8888)
        painter = QPainter(canvas)
        painter.drawImage(area, image)
        painter.end()
        via_sdk.append(time.perf_counter() - started)
    print(f"tile 640x360, QVideoFrame.paint          median {_median_ms(via_sink):.3f} ms")
    print(f"tile 640x360, SDK RGBA + drawImage       median {_median_ms(via_sdk):.3f} ms"
          f"   ({_median_ms(via_sink) / _median_ms(via_sdk):.1f}x less)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
