"""Recording a joined room on this computer: the room's grid and sound into an MP4.

:class:`FrameTap` is handed every video and audio frame a :class:`RoomSession`
already receives for the tiles and the speaker (no second subscription): it keeps
the newest picture of each video track and mixes the sound with the same
:class:`AudioMixer` the speaker plays from. :class:`LocalRecording` runs a worker
thread that, at the output rate, composes the grid and encodes it with the sound
(see :mod:`recconsole.realtime.mp4_writer`). The event loop only stores frame
references: composing and encoding never run on it.

Pictures arriving faster than the output rate simply replace one another; an
output picture the encoder had no time for is dropped (counted in
:attr:`RecordingStats.dropped_frames`), and the next one keeps its place in time,
so the video stays as long as the wall-clock time recorded. Sound is written at
the pace of the clock too: a silence fills in for sound that has not arrived
``AUDIO_SLACK`` after its time (nobody speaking, a track gone), so picture and
sound never drift apart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from livekit import rtc

from recconsole.realtime.audio import SAMPLE_RATE, AudioMixer
from recconsole.realtime.grid import I420Canvas, grid_tiles
from recconsole.realtime.mp4_writer import Mp4Writer

log = logging.getLogger(__name__)

AUDIO_SLACK = 0.12  # seconds sound may be late before silence takes its place
_UNDRAWN = object()  # a tile not drawn yet (None: drawn without a picture)


class FrameTap:
    """What a session hands a recording: newest pictures, mixed sound, names.

    Called on the event loop (push side) and from the recording's thread (read side).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.mixer = AudioMixer(max_buffered_ms=500)
        self._pictures: dict[str, rtc.VideoFrame | None] = {}  # track sid → newest
        self._owners: dict[str, str] = {}  # video track sid → identity
        self.names: dict[str, str] = {}  # identity → display name
        self.frames_in = 0

    # --- from the session (event loop) ---------------------------------------------

    def participant_joined(self, identity: str, name: str) -> None:
        self.names[identity] = name

    def video_added(self, track_sid: str, identity: str) -> None:
        with self._lock:
            self._owners[track_sid] = identity
            self._pictures.setdefault(track_sid, None)

    def video_removed(self, track_sid: str) -> None:
        with self._lock:
            self._owners.pop(track_sid, None)
            self._pictures.pop(track_sid, None)

    def video_frame(self, track_sid: str, frame: rtc.VideoFrame) -> None:
        if track_sid in self._pictures:
            self._pictures[track_sid] = frame  # the SDK's frame owns its bytes
            self.frames_in += 1

    def audio_added(self, track_sid: str) -> None:
        with self._lock:
            self.mixer.add(track_sid)

    def audio_removed(self, track_sid: str) -> None:
        with self._lock:
            self.mixer.remove(track_sid)

    def audio_frame(self, track_sid: str, frame: rtc.AudioFrame) -> None:
        with self._lock:
            self.mixer.push(track_sid, frame.data)

    # --- from the recording (its thread) -------------------------------------------

    def pictures(self) -> list[tuple[str, rtc.VideoFrame | None]]:
        """(name, newest picture) of each video track, in the order they came."""
        with self._lock:
            owners = list(self._owners.items())
            pictures = dict(self._pictures)
        return [(self.names.get(who, who), pictures.get(sid)) for sid, who in owners]

    def pull_audio(self, samples: int) -> np.ndarray:
        with self._lock:
            raw = self.mixer.pull(samples)
        return np.frombuffer(raw, np.int16)

    def drop_audio(self) -> None:
        """Forget sound received before the recording began."""
        with self._lock:
            self.mixer.clear()


@dataclass(frozen=True)
class RecordingStats:
    """How a recording goes, for the window's bar and the command line."""

    elapsed: float  # seconds recorded
    size: int  # bytes in the spooled file so far
    frames: int  # pictures written
    dropped_frames: int  # output pictures the encoder had no time for


class LocalRecording:
    """A worker thread composing ``tap``'s grid and sound into a fragmented MP4 at ``path``.

    ``failed(message)`` is called from the worker thread if encoding stops on an
    error (disk full, ...); what was written up to then stays playable.
    """

    def __init__(self, tap: FrameTap, path: Path, *, width: int = 1280, height: int = 720,
                 fps: int = 30, failed: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.tap, self.path = tap, path
        self.width, self.height, self.fps = width, height, fps
        self._failed = failed
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._writer: Mp4Writer | None = None
        self._canvas = I420Canvas(width, height)
        self._canvas.clear()
        self._names: list[str] | None = None  # the tiles' names, in the drawn layout
        self._drawn: list[object] = []  # the picture drawn in each tile
        self.started = 0.0
        self.frames = 0
        self.dropped = 0
        self.error = ""
        self._elapsed = 0.0

    def start(self) -> None:
        """Open the file and start the worker (blocking: opening writes the header)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = Mp4Writer(self.path, self.width, self.height, self.fps)
        self.tap.drop_audio()
        self.started = self._clock()
        self._thread = threading.Thread(target=self._run, name="local-recording", daemon=True)
        self._thread.start()

    def stop(self) -> RecordingStats:
        """Stop the worker and close the file (blocking: the encoders are flushed)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.stats

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stats(self) -> RecordingStats:
        try:
            size = self.path.stat().st_size
        except OSError:
            size = 0
        ended = self._stop.is_set() or (self._thread is not None and not self.running)
        elapsed = self._elapsed if ended or not self.started else self._clock() - self.started
        return RecordingStats(elapsed, size, self.frames, self.dropped)

    def _run(self) -> None:
        writer = self._writer
        assert writer is not None
        try:
            self._loop(writer)
        except Exception as err:  # the file up to here is kept; the owner is told
            self._elapsed = self.frames / self.fps + self.dropped / self.fps
            self.error = f"The local recording stopped: {err}"
            log.exception("local recording of %s failed", self.path.name)
        finally:
            try:
                writer.close()
            except Exception as err:
                self.error = self.error or f"The local recording could not be closed: {err}"
                log.exception("closing %s failed", self.path.name)
            if self.error and self._failed is not None:
                self._failed(self.error)

    def _loop(self, writer: Mp4Writer) -> None:
        step = 1 / self.fps
        index = 0
        while True:
            due = self.started + index * step
            wait = due - self._clock()
            if wait > 0 and self._stop.wait(wait):
                break
            if self._stop.is_set():
                break
            behind = int((self._clock() - due) / step)
            if behind > 0:  # the encoder fell behind: skip those pictures, keep the time
                self.dropped += behind
                index += behind
            self._compose()
            writer.write_video(self._canvas.buffer, index)
            self.frames += 1
            index += 1
            self._write_audio(writer, index * step, final=False)
        self._elapsed = index * step
        self._write_audio(writer, self._elapsed, final=True)

    def _write_audio(self, writer: Mp4Writer, until: float, final: bool) -> None:
        """Write the mixed sound up to ``until`` s, silence where it is too late."""
        due = int(until * SAMPLE_RATE) - writer.audio_samples
        if due <= 0:
            return
        pcm = self.tap.pull_audio(due)
        writer.write_audio(pcm)
        missing = due - len(pcm)
        allowed = 0 if final else int(AUDIO_SLACK * SAMPLE_RATE)
        if missing > allowed:
            writer.write_audio(np.zeros(missing - allowed, np.int16))

    def _compose(self) -> None:
        """Draw what changed since the last picture: a tile whose picture is the same
        frame as last time is left as it is."""
        canvas = self._canvas
        pictures = self.tap.pictures()
        names = [name for name, _ in pictures]
        if names != self._names:  # someone came or went: a new layout
            self._names, self._drawn = names, [_UNDRAWN] * len(names)
            canvas.clear()
        tiles = grid_tiles(len(pictures), self.width, self.height)
        for i, (tile, (name, frame)) in enumerate(zip(tiles, pictures, strict=True)):
            if frame is self._drawn[i]:
                continue
            self._drawn[i] = frame
            if frame is not None and frame.type == rtc.VideoBufferType.I420:
                canvas.draw_i420(tile, frame.data, frame.width, frame.height)
            canvas.draw_label(tile, name)
