"""Playing a recording from a presigned MinIO URL: time to first frame, and seeks.

SPEC §5 targets: first frame ≤ 1 s after play from a presigned URL; a seek shows the
new position's frame within ≤ 300 ms. Baseline in the same run: the same file played
from the local disk (file:// URL), so the ratio says what the network path adds.

The recording is a 30 s 1280x720 H.264/AAC MP4 made with PyAV (keyframe every 2 s,
noisy enough for a camera-like bitrate), uploaded to MinIO under ``bench-playback/``. Qt
Multimedia (FFmpeg backend) plays it into a QVideoSink, offscreen.

    .venv/bin/python -m bench.playback [--runs 5] [--endpoint http://127.0.0.1:19300]

Without --endpoint it starts MinIO from the dev stack (test profile, port offset 300)
and stops it afterwards if it was not already running. Loopback endpoints only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QTimer, QUrl
from PySide6.QtMultimedia import QMediaPlayer, QVideoFrame, QVideoSink
from PySide6.QtWidgets import QApplication

from recconsole.storage.s3 import S3Store
from recconsole_devtools.devstack import (
    MINIO_PASSWORD,
    MINIO_USER,
    S3_BUCKET,
    DevStack,
    StackConfig,
)
from recconsole_devtools.media import make_mp4

KEY = "bench-playback/bench-RM_bench-2026-11-22T120000.mp4"
SECONDS, SIZE, FPS, GOP = 30, (1280, 720), 25, 50
SEEKS_S = (5.0, 21.3, 12.7, 27.5, 2.2, 16.0)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def make_recording(path: Path) -> Path:
    """A moving bar over noise (the encoder at its 3 Mbit/s cap, as egress's 720p), a tone."""
    return make_mp4(path, SECONDS, SIZE, fps=FPS, gop=GOP, max_bitrate=3_000_000, noise=True)


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    """Run Qt's loop until ``check()`` holds (re-checked on every event) or time runs out."""
    loop, deadline = QEventLoop(), time.monotonic() + timeout
    timer = QTimer()
    timer.setInterval(1)

    def tick() -> None:
        if check() or time.monotonic() > deadline:
            loop.quit()

    timer.timeout.connect(tick)
    timer.start()
    if not check():
        loop.exec()
    timer.stop()
    return check()


class Watched:
    """A player into a sink, noting each frame's arrival time and media position."""

    def __init__(self, url: QUrl) -> None:
        self.player, self.sink = QMediaPlayer(), QVideoSink()
        self.player.setVideoSink(self.sink)
        self.frames: list[tuple[float, int]] = []  # (perf_counter, startTime in µs)
        self.sink.videoFrameChanged.connect(self._frame)
        self.url = url

    def _frame(self, frame: QVideoFrame) -> None:
        if frame.isValid():
            self.frames.append((time.perf_counter(), frame.startTime()))

    def first_frame(self) -> float:
        started = time.perf_counter()
        self.player.setSource(self.url)
        self.player.play()
        if not wait_until(lambda: bool(self.frames), 20):
            raise RuntimeError(f"no frame within 20 s: {self.player.errorString()}")
        return self.frames[0][0] - started

    def seek(self, seconds: float) -> float:
        target_us = int(seconds * 1e6)
        seen = len(self.frames)
        started = time.perf_counter()
        self.player.setPosition(int(seconds * 1000))

        def arrived() -> bool:
            return any(abs(us - target_us) < 200_000 for _, us in self.frames[seen:])

        if not wait_until(arrived, 20):
            raise RuntimeError(f"no frame near {seconds} s within 20 s")
        return next(t for t, us in self.frames[seen:] if abs(us - target_us) < 200_000) - started

    def close(self) -> None:
        self.player.stop()
        self.player.setSource(QUrl())


def measure(url: QUrl, runs: int) -> tuple[list[float], list[float]]:
    firsts: list[float] = []
    seeks: list[float] = []
    for _ in range(runs):
        watched = Watched(url)
        try:
            firsts.append(watched.first_frame())
            seeks.extend(watched.seek(s) for s in SEEKS_S)
        finally:
            watched.close()
    return firsts, seeks


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (f"median {statistics.median(values) * 1000:6.0f} ms, p90 {p90 * 1000:6.0f} ms,"
            f" worst {ordered[-1] * 1000:6.0f} ms")


async def _upload(endpoint: str, data: bytes) -> str:
    store = S3Store(endpoint, MINIO_USER, MINIO_PASSWORD, "us-east-1", S3_BUCKET)
    try:
        await store.write_bytes(KEY, data, "video/mp4")
        return await store.playback_url(KEY, 3600)
    finally:
        await store.aclose()


def run(endpoint: str, runs: int) -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        path = make_recording(Path(tmp) / "bench.mp4")
        print(f"recording: {SECONDS} s {SIZE[0]}x{SIZE[1]} H.264 (GOP {GOP}) + AAC,"
              f" {path.stat().st_size / 1e6:.1f} MB, made in {time.perf_counter() - started:.1f} s")
        url = asyncio.run(_upload(endpoint, path.read_bytes()))
        local_first, local_seek = measure(QUrl.fromLocalFile(str(path)), runs)
        remote_first, remote_seek = measure(QUrl(url), runs)
    print(f"local file      first frame: {_ms(local_first)}")
    print(f"presigned MinIO first frame: {_ms(remote_first)}   (target ≤ 1000 ms)")
    print(f"local file      seek:        {_ms(local_seek)}")
    print(f"presigned MinIO seek:        {_ms(remote_seek)}   (target ≤ 300 ms)")
    print(f"ratio presigned/local (median): first frame "
          f"{statistics.median(remote_first) / statistics.median(local_first):.2f}x,"
          f" seek {statistics.median(remote_seek) / statistics.median(local_seek):.2f}x")
    del app
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--endpoint", help="a running MinIO on loopback (default: start one)")
    args = parser.parse_args(argv)
    if args.endpoint:
        if urlsplit(args.endpoint).hostname not in LOOPBACK:
            parser.error("--endpoint must be on loopback (127.0.0.1, localhost, ::1)")
        return run(args.endpoint.rstrip("/"), args.runs)
    stack = DevStack(StackConfig.for_profile("test", offset=300))
    already_running = stack.pid("minio") is not None
    stack.start("minio")
    try:
        return run(stack.cfg.s3_endpoint, args.runs)
    finally:
        if not already_running:
            stack.stop("minio")


if __name__ == "__main__":
    sys.exit(main())
