"""Recording a joined room on this computer: the room's grid and sound into an MP4.

:class:`FrameTap` is handed every video and audio frame a :class:`RoomSession`
already receives for the tiles and the speaker (no second subscription): it keeps
the newest picture of each video track and each audio track's sound in a
:class:`SoundMix`. :class:`LocalRecording` runs two worker threads on one
recording clock (``started``): the picture thread composes the grid at the
output rate and encodes it, the sound thread writes the mix as it comes (see
:mod:`recconsole.realtime.mp4_writer`). The event loop only stores frame
references: composing and encoding never run on it.

Pictures are placed in time by the clock: one arriving faster than the output rate
replaces the previous, and an output picture the encoder had no time for is dropped
(counted in :attr:`RecordingStats.dropped_frames`), the next keeping its place in
time. Sound is never dropped and never waits for pictures: its time is the count
of samples written since the start. Tracks are mixed only as far as each of them
has sent (one track a little late is waited for, so its sound has no holes); only
when no sound at all has come for ``AUDIO_SLACK`` (nobody publishing sound, a
stalled connection) is silence written in its place, so sound and picture stay
together.
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

from recconsole.realtime.audio import SAMPLE_RATE
from recconsole.realtime.grid import I420Canvas, grid_tiles
from recconsole.realtime.mp4_writer import Mp4Writer

log = logging.getLogger(__name__)

AUDIO_SLACK = 0.5  # seconds without any sound before silence takes its place
TRACK_WAIT = 0.2  # seconds one track's sound may lag the others' before it is not waited for
SOUND_TICK = 0.02  # seconds between the sound thread's writes
SOUND_LEAD = 0.05  # seconds sound may end after the recording's clock (timing jitter)
MAX_BUFFERED = 5.0  # seconds of one track's sound kept before its oldest is dropped
_UNDRAWN = object()  # a tile not drawn yet (None: drawn without a picture)
_NO_SOUND = np.zeros(0, np.int16)


class SoundMix:
    """Each audio track's sound, mixed as far as every track still sending has sent.

    Not thread-safe: :class:`FrameTap` holds its lock around every call.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sample_rate: int = SAMPLE_RATE) -> None:
        self._clock = clock
        self._buffers: dict[str, list[np.ndarray]] = {}
        self._sizes: dict[str, int] = {}
        self._heard: dict[str, float] = {}  # track → when it last sent sound
        self.max_samples = int(MAX_BUFFERED * sample_rate)
        self.dropped = 0  # samples dropped because the recording did not take them

    def add(self, key: str) -> None:
        self._buffers.setdefault(key, [])
        self._sizes.setdefault(key, 0)

    def remove(self, key: str) -> None:
        self._buffers.pop(key, None)
        self._sizes.pop(key, None)
        self._heard.pop(key, None)

    def push(self, key: str, pcm: bytes | memoryview | np.ndarray) -> None:
        if key not in self._buffers:
            return
        samples = pcm if isinstance(pcm, np.ndarray) else np.frombuffer(pcm, np.int16)
        if not len(samples):
            return
        self._buffers[key].append(samples)
        self._sizes[key] += len(samples)
        self._heard[key] = self._clock()
        excess = self._sizes[key] - self.max_samples
        if excess > 0:
            self.dropped += excess
            self._take(key, excess)

    def clear(self) -> None:
        for key in self._buffers:
            self._buffers[key], self._sizes[key] = [], 0

    def _take(self, key: str, n: int) -> np.ndarray:
        """The first ``n`` samples of one track (fewer if it has fewer), removed."""
        chunks, taken, size = self._buffers[key], [], 0
        while chunks and size < n:
            chunk = chunks.pop(0)
            if size + len(chunk) > n:
                chunks.insert(0, chunk[n - size:])
                chunk = chunk[:n - size]
            taken.append(chunk)
            size += len(chunk)
        self._sizes[key] -= size
        return np.concatenate(taken) if taken else _NO_SOUND

    def pull(self, wait: float | None = TRACK_WAIT) -> np.ndarray:
        """The sound every track still sending has sent, mixed (int16).

        A track is waited for while it is no more than ``wait`` s behind the
        latest sound of any track; one quiet for longer (gone silent, stalled)
        gives what it has. ``wait=None``: everything buffered (the end).
        """
        if not self._sizes:
            return _NO_SOUND
        latest = max(self._heard.values(), default=0.0)
        waited = [size for key, size in self._sizes.items() if wait is not None
                  and key in self._heard and latest - self._heard[key] <= wait]
        n = min(waited) if waited else max(self._sizes.values())
        if n <= 0:
            return _NO_SOUND
        mixed = np.zeros(n, np.int32)
        for key in self._sizes:
            part = self._take(key, n)
            mixed[:len(part)] += part
        return np.clip(mixed, -32768, 32767).astype(np.int16)


def track_owner(room: rtc.Room) -> Callable[[str], str | None]:
    """Who publishes a track of ``room`` (by its sid), for :class:`FrameTap`."""
    def owner_of(track_sid: str) -> str | None:
        for participant in list(room.remote_participants.values()):
            if track_sid in participant.track_publications:
                return participant.identity
        return None
    return owner_of


class FrameTap:
    """What a session hands a recording: newest pictures, mixed sound, names.

    Called on the event loop (push side) and from the recording's threads (read side).
    With :meth:`keep_voices`, each participant's sound is also kept apart (their own
    file's): ``owner_of`` says whose an audio track is.
    """

    def __init__(self, owner_of: Callable[[str], str | None] | None = None) -> None:
        self._lock = threading.Lock()
        self.mix = SoundMix()
        self._pictures: dict[str, rtc.VideoFrame | None] = {}  # track sid → newest
        self._owners: dict[str, str] = {}  # video track sid → identity
        self._owner_of = owner_of
        self._voice_of: dict[str, str] = {}  # audio track sid → identity
        self._voices: dict[str, SoundMix] | None = None  # identity → their sound
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
        owner = self._owner_of(track_sid) if self._owner_of is not None else None
        with self._lock:
            self.mix.add(track_sid)
            if owner is not None:
                self._voice_of[track_sid] = owner
                if self._voices is not None:
                    self._voices.setdefault(owner, SoundMix()).add(track_sid)

    def audio_removed(self, track_sid: str) -> None:
        with self._lock:
            self.mix.remove(track_sid)
            owner = self._voice_of.pop(track_sid, None)
            if owner is not None and self._voices is not None and owner in self._voices:
                self._voices[owner].remove(track_sid)

    def audio_frame(self, track_sid: str, frame: rtc.AudioFrame) -> None:
        with self._lock:
            self.mix.push(track_sid, frame.data)
            if self._voices is not None and (owner := self._voice_of.get(track_sid)):
                self._voices[owner].push(track_sid, frame.data)

    # --- from the recording (its threads) ------------------------------------------

    def pictures(self) -> list[tuple[str, rtc.VideoFrame | None]]:
        """(name, newest picture) of each video track, in the order they came."""
        with self._lock:
            owners = list(self._owners.items())
            pictures = dict(self._pictures)
        return [(self.names.get(who, who), pictures.get(sid)) for sid, who in owners]

    def cameras(self) -> dict[str, rtc.VideoFrame | None]:
        """Each participant with a video track: the newest picture of their first."""
        with self._lock:
            owners = list(self._owners.items())
            pictures = dict(self._pictures)
        found: dict[str, rtc.VideoFrame | None] = {}
        for sid, who in owners:
            found.setdefault(who, pictures.get(sid))
        return found

    def pull_audio(self, wait: float | None = TRACK_WAIT) -> np.ndarray:
        """The mixed sound that is ready (see :meth:`SoundMix.pull`)."""
        with self._lock:
            return self.mix.pull(wait)

    def drop_audio(self) -> None:
        """Forget sound received before the recording began."""
        with self._lock:
            self.mix.clear()

    def keep_voices(self) -> None:
        """From now on keep each participant's sound apart too (see :meth:`pull_voice`)."""
        with self._lock:
            if self._voices is None:
                self._voices = {}
                for sid, owner in self._voice_of.items():
                    self._voices.setdefault(owner, SoundMix()).add(sid)

    def pull_voice(self, identity: str, wait: float | None = TRACK_WAIT) -> np.ndarray:
        """One participant's sound that is ready (nothing unless voices are kept)."""
        with self._lock:
            voice = (self._voices or {}).get(identity)
            return voice.pull(wait) if voice is not None else _NO_SOUND

    def drop_voice(self, identity: str) -> None:
        with self._lock:
            voice = (self._voices or {}).get(identity)
            if voice is not None:
                voice.clear()


@dataclass(frozen=True)
class RecordingStats:
    """How a recording goes, for the window's bar and the command line."""

    elapsed: float  # seconds recorded
    size: int  # bytes in the spooled file so far
    frames: int  # pictures written
    dropped_frames: int  # output pictures the encoder had no time for


class LocalRecording:
    """Two worker threads writing ``tap``'s grid and sound into a fragmented MP4 at ``path``.

    ``failed(message)`` is called from a worker thread if writing stops on an error
    (disk full, ...); what was written up to then stays playable. :meth:`compose`
    draws each picture (a subclass may draw otherwise).
    """

    def __init__(self, tap: FrameTap, path: Path, *, width: int = 1280, height: int = 720,
                 fps: int = 30, failed: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 participants: ParticipantFiles | None = None) -> None:
        self.tap, self.path = tap, path
        self.participants = participants
        self.width, self.height, self.fps = width, height, fps
        self._failed = failed
        self._clock = clock
        self._stop = threading.Event()
        self._sound_end = threading.Event()  # the pictures have ended: sound up to their end
        self._thread: threading.Thread | None = None
        self._writer: Mp4Writer | None = None
        self._canvas = I420Canvas(width, height)
        self._canvas.clear()
        self._names: list[str] | None = None  # the tiles' names, in the drawn layout
        self._drawn: list[object] = []  # the picture drawn in each tile
        self.started = 0.0
        self.frames = 0
        self.dropped = 0
        self.silence = 0  # samples of silence written where no sound had come
        self.replaced = 0  # samples of late sound left out: silence had taken their place
        self._owed = 0  # samples of silence written for sound that may still come (late)
        self.error = ""
        self._elapsed = 0.0
        self._stop_asked: float | None = None  # the recording's clock when stop() was called
        self._filling = False  # the last sound written was silence in place of sound

    def start(self) -> None:
        """Open the file and start the workers (blocking: opening writes the header)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = Mp4Writer(self.path, self.width, self.height, self.fps)
        self._drop_sound()
        self.started = self._clock()
        self._thread = threading.Thread(target=self._run, name="local-recording", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """End the recording now (it is over at this instant); :meth:`stop` then waits
        for the file to be closed. Does not block."""
        if self._stop_asked is None and self.started:
            self._stop_asked = self._clock() - self.started
        self._stop.set()

    def stop(self) -> RecordingStats:
        """Stop the workers and close the file (blocking: the encoders are flushed)."""
        self.request_stop()
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
        if self._thread is not None and not self.running:  # ended: as written
            elapsed = self._elapsed
        elif self._stop_asked is not None:  # ending: it ended then
            elapsed = self._stop_asked
        else:
            elapsed = self._clock() - self.started if self.started else 0.0
        return RecordingStats(elapsed, size, self.frames, self.dropped)

    @property
    def sound_written(self) -> float:
        """Seconds of sound written so far (the sound's own clock)."""
        return self._writer.audio_samples / SAMPLE_RATE if self._writer else 0.0

    def _run(self) -> None:
        """The picture thread; it starts the sound thread and closes the file at the end."""
        writer = self._writer
        assert writer is not None
        sound = threading.Thread(target=self._sound, args=(writer,),
                                 name="local-recording-sound", daemon=True)
        sound.start()
        try:
            self._pictures(writer)
        except Exception as err:  # the file up to here is kept; the owner is told
            self._elapsed = self.frames / self.fps + self.dropped / self.fps
            self.error = f"The local recording stopped: {err}"
            log.exception("local recording of %s failed", self.path.name)
        finally:
            self._stop.set()
            self._sound_end.set()
            if self.participants is not None:
                self.participants.stop_all()
            sound.join()
            try:
                writer.close()
            except Exception as err:
                self.error = self.error or f"The local recording could not be closed: {err}"
                log.exception("closing %s failed", self.path.name)
            if self.error and self._failed is not None:
                self._failed(self.error)

    def _pictures(self, writer: Mp4Writer) -> None:
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
            if self.participants is not None:
                self.participants.update()
            self.compose()
            writer.write_video(self._canvas.buffer, index)
            self.frames += 1
            index += 1
        # The recording lasts until it was asked to stop, even if the last picture
        # (late) was shown for less than that: its sound goes on to that time.
        self._elapsed = max(index * step, self._stop_asked or 0.0)

    def _sound(self, writer: Mp4Writer) -> None:
        """The sound thread: the mix as it comes, on its own, until the recording stops;
        then what is left, up to where the pictures end."""
        try:
            while not self._stop.wait(SOUND_TICK):
                self._write_sound(writer, self._clock() - self.started)
            self._sound_end.wait()
            self._write_sound(writer, self._elapsed, final=True)
        except Exception as err:
            self.error = self.error or f"The local recording stopped: {err}"
            log.exception("the sound of %s could not be written", self.path.name)
            self._stop.set()

    def _write_sound(self, writer: Mp4Writer, now: float, final: bool = False) -> None:
        """Write what the mix has ready; silence where none has come for ``AUDIO_SLACK``
        (up to ``now``, the recording's time, at the end)."""
        pcm = self._pull_sound(None if final else TRACK_WAIT)
        at = int(now * SAMPLE_RATE)
        if final:  # what came after the stop is not recorded
            pcm = pcm[:max(0, at - writer.audio_samples)]
        if len(pcm):
            if self._filling:  # sound again after silence: it ends now, not later
                self._owed += self._silence(writer, at - len(pcm))
                self._filling = False
            # Sound that comes after silence was written in its place (it was late, not
            # absent) would end after now: what silence already covers is left out, so
            # the sound does not fall behind the pictures.
            over = writer.audio_samples + len(pcm) - (at + int(SOUND_LEAD * SAMPLE_RATE))
            if over > 0 and self._owed > 0:
                cut = min(over, self._owed, len(pcm))
                pcm, self._owed = pcm[cut:], self._owed - cut
                self.replaced += cut
            writer.write_audio(pcm)
        if final:
            self._silence(writer, at)
        elif writer.audio_samples < at - AUDIO_SLACK * SAMPLE_RATE:
            self._owed += self._silence(writer, at - int(AUDIO_SLACK * SAMPLE_RATE))
            self._filling = True

    def _silence(self, writer: Mp4Writer, until: int) -> int:
        """Silence up to sample ``until``; how many samples of it were written."""
        missing = until - writer.audio_samples
        if missing <= 0:
            return 0
        writer.write_audio(np.zeros(missing, np.int16))
        self.silence += missing
        return missing

    def _pull_sound(self, wait: float | None) -> np.ndarray:
        return self.tap.pull_audio(wait)

    def _drop_sound(self) -> None:
        self.tap.drop_audio()

    def compose(self) -> None:
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


class ParticipantRecording(LocalRecording):
    """One participant's camera and their own sound into a file of their own."""

    def __init__(self, tap: FrameTap, identity: str, path: Path, *, width: int, height: int,
                 fps: int = 30) -> None:
        super().__init__(tap, path, width=width, height=height, fps=fps)
        self.identity = identity
        self._shown: object = _UNDRAWN

    def _pull_sound(self, wait: float | None) -> np.ndarray:
        return self.tap.pull_voice(self.identity, wait)

    def _drop_sound(self) -> None:
        self.tap.drop_voice(self.identity)

    def compose(self) -> None:
        frame = self.tap.cameras().get(self.identity)
        if frame is self._shown:
            return
        self._shown = frame
        if frame is not None and frame.type == rtc.VideoBufferType.I420:
            [tile] = grid_tiles(1, self.width, self.height)
            self._canvas.draw_i420(tile, frame.data, frame.width, frame.height)


class ParticipantFiles:
    """Beside a room's recording, one file per participant with a camera (and their
    sound): begun at their first picture, ended when their camera goes.

    ``new_file(identity)`` gives the path of a participant's next file. Driven by the
    room recording's picture thread (:meth:`update` at each picture).
    """

    def __init__(self, tap: FrameTap, new_file: Callable[[str], Path], fps: int = 30) -> None:
        self.tap, self.new_file, self.fps = tap, new_file, fps
        self.recording: dict[str, ParticipantRecording] = {}
        self.ended: list[ParticipantRecording] = []
        self.errors: list[str] = []
        self._failed: set[str] = set()
        self._stopping: list[threading.Thread] = []

    def update(self) -> None:
        cameras = self.tap.cameras()
        for identity, frame in cameras.items():
            if identity in self.recording or identity in self._failed or frame is None:
                continue
            width, height = max(16, frame.width // 2 * 2), max(16, frame.height // 2 * 2)
            try:
                recording = ParticipantRecording(self.tap, identity, self.new_file(identity),
                                                 width=width, height=height, fps=self.fps)
                recording.start()
            except Exception as err:  # the room's recording goes on without this file
                self._failed.add(identity)
                self.errors.append(f"{identity}'s own file could not start: {err}")
                log.exception("%s's own file could not start", identity)
                continue
            self.recording[identity] = recording
        for identity in [who for who in self.recording if who not in cameras]:
            self._end(identity)  # their camera is gone: so is their file

    def _end(self, identity: str) -> None:
        recording = self.recording.pop(identity)
        self.ended.append(recording)
        stopping = threading.Thread(target=recording.stop, name="participant-file-stop",
                                    daemon=True)  # flushing it must not hold the room's
        stopping.start()
        self._stopping.append(stopping)

    def stop_all(self) -> None:
        """End every participant's file (blocking: their encoders are flushed)."""
        for identity in list(self.recording):
            self._end(identity)
        for stopping in self._stopping:
            stopping.join()
        self.errors += [r.error for r in self.ended if r.error]
