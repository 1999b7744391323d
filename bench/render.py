"""Video path overhead: a 1280x720 I420 frame from the SDK into a QVideoSink.

Measures, per frame, converting the SDK's frame into a QVideoFrame (plane copies,
no per-pixel Python) and handing it to a QVideoSink, against a plain copy of the
same bytes in the same run (the floor any path must pay). Offscreen Qt, no GPU.
Target: ≤ 0.5 ms median per frame.

    QT_QPA_PLATFORM=offscreen python -m bench.render [--frames 600]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from livekit import rtc

from recconsole.devtools.bot import MovingPattern


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

    from recconsole.ui.video_frames import to_qvideoframe

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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
