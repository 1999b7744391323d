"""Real MP4 files for playback tests, encoded with PyAV (H.264 video, AAC tone)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def make_mp4(path: Path, seconds: float = 3.0, size: tuple[int, int] = (320, 240)) -> Path:
    width, height = size
    frames = int(seconds * 25)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = out.add_stream("aac", rate=48000)
        for i in range(frames):
            image = np.zeros((height, width, 3), np.uint8)
            x = (i * 4) % max(1, width - 20)
            image[:, x:x + 20] = 255
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        tone = (np.sin(np.arange(int(48000 * seconds)) / 48000 * 2 * np.pi * 440) * 0.3)
        samples = tone.astype(np.float32).reshape(1, -1)
        for start in range(0, samples.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(samples[:, start:start + 1024], format="fltp",
                                               layout="mono")
            frame.sample_rate, frame.pts = 48000, start
            for packet in audio.encode(frame):
                out.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode():
                out.mux(packet)
    return path
