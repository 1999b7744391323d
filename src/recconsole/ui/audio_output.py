"""The room's sound on the default speaker, through a Qt Multimedia QAudioSink."""

from __future__ import annotations

import shiboken6
from livekit import rtc
from PySide6.QtCore import QIODevice, QObject, Qt, QTimer, Signal
from PySide6.QtMultimedia import QAudioDevice, QAudioFormat, QAudioSink, QMediaDevices, QtAudio

from recconsole.realtime.audio import CHANNELS, SAMPLE_RATE, AudioMixer

FEED_MS = 10  # how often the device is topped up
TARGET_MS = 80  # sound kept queued at the device: enough for a late tick, little delay
BYTES_PER_SAMPLE = 2


class RoomAudio(QObject):
    """Mixes every remote audio track and plays it; a mute for all and one per person.

    With no audio output device the room stays silent and :attr:`available` is
    False; nothing else changes.

    Signals:
        mutedChanged(bool): the console's own mute was switched.
        personMutedChanged(str, bool): one participant was muted or unmuted here.
    """

    mutedChanged = Signal(bool)
    personMutedChanged = Signal(str, bool)

    def __init__(self, parent: QObject | None = None, device: QAudioDevice | None = None) -> None:
        super().__init__(parent)
        self.mixer = AudioMixer()
        self.device = device if device is not None else QMediaDevices.defaultAudioOutput()
        self.muted = False
        self.bytes_played = 0
        self._owners: dict[str, str] = {}  # track sid -> identity
        self._muted_people: set[str] = set()
        self._sink: QAudioSink | None = None
        self._io: QIODevice | None = None
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(FEED_MS)
        self._timer.timeout.connect(self._feed)

    @property
    def available(self) -> bool:
        return not self.device.isNull()

    @property
    def device_name(self) -> str:
        return self.device.description() if self.available else ""

    # --- tracks -------------------------------------------------------------------------

    def add_track(self, track_sid: str, identity: str) -> None:
        self._owners[track_sid] = identity
        self.mixer.add(track_sid)
        self.mixer.set_muted(track_sid, identity in self._muted_people)
        self._start()

    def remove_track(self, track_sid: str) -> None:
        self._owners.pop(track_sid, None)
        self.mixer.remove(track_sid)
        if not self._owners:
            self._stop()

    def push(self, track_sid: str, frame: rtc.AudioFrame) -> None:
        if self._sink is not None and not self.muted:
            self.mixer.push(track_sid, frame.data)

    # --- mute ---------------------------------------------------------------------------

    def set_muted(self, muted: bool) -> None:
        """Mute or unmute the whole room on this console."""
        if muted == self.muted:
            return
        self.muted = muted
        self.mixer.clear()
        if self._sink is not None:
            if muted:
                self._sink.suspend()
            else:
                self._sink.resume()
        self.mutedChanged.emit(muted)

    def set_person_muted(self, identity: str, muted: bool) -> None:
        """Mute or unmute one participant on this console only."""
        if muted:
            self._muted_people.add(identity)
        else:
            self._muted_people.discard(identity)
        for sid, owner in self._owners.items():
            if owner == identity:
                self.mixer.set_muted(sid, muted)
        self.personMutedChanged.emit(identity, muted)

    def is_person_muted(self, identity: str) -> bool:
        return identity in self._muted_people

    # --- device -------------------------------------------------------------------------

    def _start(self) -> None:
        if self._sink is not None or not self.available:
            return
        fmt = QAudioFormat()
        fmt.setSampleRate(SAMPLE_RATE)
        fmt.setChannelCount(CHANNELS)
        fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
        self._sink = QAudioSink(self.device, fmt, self)
        self._sink.setBufferSize(SAMPLE_RATE * CHANNELS * BYTES_PER_SAMPLE // 4)  # 250 ms
        self._io = self._sink.start()
        if self.muted:
            self._sink.suspend()
        self._timer.start()

    def _stop(self) -> None:
        self._timer.stop()
        sink, self._sink, self._io = self._sink, None, None
        if sink is not None:
            sink.stop()
            # Now, on this thread: a sink left to deleteLater could outlive the loop and
            # be freed with its window by a garbage collection on a worker thread.
            shiboken6.delete(sink)
        self.mixer.clear()

    def _feed(self) -> None:
        sink, io = self._sink, self._io
        if sink is None or io is None or self.muted:
            return
        if sink.state() == QtAudio.State.StoppedState:
            return
        queued = sink.bufferSize() - sink.bytesFree()
        want = SAMPLE_RATE * CHANNELS * BYTES_PER_SAMPLE * TARGET_MS // 1000 - queued
        if want <= 0:
            return
        data = self.mixer.pull(min(want, sink.bytesFree()) // BYTES_PER_SAMPLE)
        if data:
            self.bytes_played += io.write(data)

    def close(self) -> None:
        self._stop()
        self._owners.clear()
        self.mixer = AudioMixer()
