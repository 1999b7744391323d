"""H.264 + AAC into a fragmented MP4 with PyAV, and finishing such a file for upload.

While recording, the file is a fragmented MP4 (``frag_keyframe+empty_moov+
default_base_moof``): its header is written first and each keyframe starts a
fragment that is complete on disk, so a crash or power cut leaves a file that
plays up to its last whole fragment (a keyframe every ``KEYFRAME_SECONDS``).
:func:`finish_file` copies such a file, without re-encoding, into an ordinary MP4
(index at the front, duration in its header) — what players, browsers and the
tutorial expect — stopping cleanly at a fragment a crash cut short.

Blocking: call from a worker thread, never from the event loop. Pictures and sound
may be written from two threads (each stream's encoder is used by one thread only;
the muxing of their packets into the file is serialised).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

log = logging.getLogger(__name__)

FRAGMENTED = "frag_keyframe+empty_moov+default_base_moof"
KEYFRAME_SECONDS = 2
AUDIO_RATE = 48_000


class Mp4Writer:
    """One fragmented MP4 being written: video pictures (I420) and mono 16-bit sound."""

    def __init__(self, path: Path, width: int, height: int, fps: int,
                 sample_rate: int = AUDIO_RATE, preset: str = "ultrafast") -> None:
        self.path = path
        self.fps = fps
        self.sample_rate = sample_rate
        self._container: Any = av.open(str(path), "w", format="mp4",
                                       options={"movflags": FRAGMENTED, "flush_packets": "1"})
        try:
            video: Any = self._container.add_stream("libx264", rate=fps)
            video.width, video.height = width, height
            video.pix_fmt = "yuv420p"
            video.time_base = Fraction(1, fps)
            video.codec_context.time_base = Fraction(1, fps)
            # ultrafast: 720p of moving pictures in about half a core. Keyframes are
            # forced by time in write_video (frames may be skipped); x264's own
            # interval is only a fallback.
            video.options = {"preset": preset, "tune": "zerolatency", "crf": "23",
                             "forced-idr": "1", "g": str(fps * KEYFRAME_SECONDS * 2)}
            audio: Any = self._container.add_stream("aac", rate=sample_rate, layout="mono")
            audio.time_base = Fraction(1, sample_rate)
            audio.bit_rate = 96_000
        except BaseException:
            self._container.close()
            raise
        self._video, self._audio = video, audio
        self._muxing = threading.Lock()
        self._next_keyframe = 0
        self.video_frames = 0  # pictures handed to the encoder
        self.audio_samples = 0  # samples handed to the encoder

    def write_video(self, picture: np.ndarray, index: int) -> None:
        """Encode one picture (``(h*3/2, w)`` yuv420p) shown at frame ``index``."""
        frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
        frame.pts = index
        frame.time_base = Fraction(1, self.fps)
        if index >= self._next_keyframe:  # a fragment ends here: on disk from now on
            frame.pict_type = av.video.frame.PictureType.I
            self._next_keyframe = index + self.fps * KEYFRAME_SECONDS
        self._mux(self._video.encode(frame))
        self.video_frames += 1

    def write_audio(self, pcm: np.ndarray) -> None:
        """Encode mono int16 samples that follow the previous ones without a gap."""
        if not len(pcm):
            return
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.sample_rate
        frame.pts = self.audio_samples
        frame.time_base = Fraction(1, self.sample_rate)
        self._mux(self._audio.encode(frame))
        self.audio_samples += len(pcm)

    def _mux(self, packets: list[Any]) -> None:
        if not packets:
            return
        with self._muxing:
            for packet in packets:
                self._container.mux(packet)

    def close(self) -> None:
        """Flush both encoders and close the file (what was written stays playable)."""
        try:
            self._mux(self._video.encode(None))
            self._mux(self._audio.encode(None))
        finally:
            self._container.close()


@dataclass(frozen=True)
class FinishedFile:
    path: Path
    duration: float  # seconds, from the first to the end of the last sample or picture
    size: int  # bytes


def finish_file(spooled: Path, target: Path) -> FinishedFile:
    """Copy a (possibly cut short) fragmented MP4 into an ordinary one at ``target``.

    Packets are copied until the end or the first one a crash left incomplete.
    Raises ValueError if the file holds nothing to play.
    """
    first: float | None = None
    last = 0.0
    copied = 0
    try:
        source = av.open(str(spooled))
    except av.FFmpegError as err:
        raise ValueError(f"{spooled.name} cannot be read: {err}") from err
    with source:
        streams = [s for s in source.streams if s.type in ("video", "audio")]
        with av.open(str(target), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            mapping = {s.index: out.add_stream_from_template(s) for s in streams}
            try:
                for packet in source.demux(streams):
                    if packet.dts is None or packet.size == 0:
                        continue
                    base = float(packet.time_base)
                    start = float(packet.pts if packet.pts is not None else packet.dts) * base
                    first = start if first is None else min(first, start)
                    last = max(last, start + float(packet.duration or 0) * base)
                    packet.stream = mapping[packet.stream.index]
                    out.mux(packet)
                    copied += 1
            except (av.FFmpegError, EOFError) as err:
                log.warning("%s ends early (%s): kept what came before", spooled.name, err)
    if not copied:
        target.unlink(missing_ok=True)
        raise ValueError(f"{spooled.name} holds no sound or picture")
    return FinishedFile(target, last - (first or 0.0), target.stat().st_size)
