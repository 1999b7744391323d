"""Real MP4 recordings made with PyAV (H.264 video, AAC tone), for tests and benchmarks.

PyAV comes with the ``dev`` extra; the console itself never imports this module.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def make_mp4(
    path: Path,
    seconds: float = 3.0,
    size: tuple[int, int] = (320, 240),
    *,
    fps: int = 25,
    gop: int | None = None,
    max_bitrate: int | None = None,
    noise: bool = False,
) -> Path:
    """A white bar moving over black, and a 440 Hz tone.

    ``gop`` sets the keyframe interval (frames); ``max_bitrate`` caps the video rate
    (bit/s); ``noise`` fills the middle with random pixels, so that a capped encoder
    works at its cap as with a real camera.
    """
    width, height = size
    rng = np.random.default_rng(7)
    options = {"preset": "veryfast"}
    if max_bitrate:
        options |= {"maxrate": str(max_bitrate), "bufsize": str(2 * max_bitrate)}
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps, options=options)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if gop:
            video.codec_context.gop_size = gop
        if max_bitrate:
            video.bit_rate = max_bitrate
        audio = out.add_stream("aac", rate=48000)
        for i in range(int(seconds * fps)):
            image = np.zeros((height, width, 3), np.uint8)
            if noise:
                image[height // 4:height * 3 // 4, width // 4:width * 3 // 4] = rng.integers(
                    0, 256, (height * 3 // 4 - height // 4, width * 3 // 4 - width // 4, 3),
                    np.uint8)
            x = (i * 4) % max(1, width - 20)
            image[:, x:x + 20] = 255
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        tone = np.sin(np.arange(int(48000 * seconds)) / 48000 * 2 * np.pi * 440) * 0.3
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
