"""What the test PulseAudio's silent speaker plays, recorded from its monitor with parec."""

from __future__ import annotations

import os
import subprocess
import threading

import numpy as np

from recconsole_devtools.devstack import PULSE_SINK

RATE = 48_000
# How near a recording's pitch is to its tone: the tests that hear two tones keep them
# about 300 Hz apart, and a loaded machine (CI) shifts what pitch_of reads by up to
# ≈ 30 Hz: sound arriving late is cut where silence already stood (or comes late from the
# bots themselves), and each cut jumps the tone's phase, often enough to move a
# quarter-second's strongest frequency (808, 821 and 860 Hz for 830 seen).
PITCH_HZ = 40.0


def pitch_of(pcm: np.ndarray, rate: int, window: float = 0.25) -> float:
    """The frequency (Hz) most of the sound is at: the strongest frequency of each
    ``window`` s that is loud (at least a fifth of the loudest), their median; 0 when
    there is no sound. A sound shorter than ``window`` is one window.

    A glitch (a late packet, a phase jump where one track's sound resumes) spoils the
    window it falls in, not the answer, which one spectrum of the whole would let it do:
    its sidebands can outgrow the tone itself. Each window is padded to one second, so
    the answer is to the hertz.
    """
    size = min(int(window * rate), len(pcm))  # a shorter sound is one window
    if size == 0:
        return 0.0
    count = len(pcm) // size
    windows = np.asarray(pcm[:count * size], np.float64).reshape(count, size)
    rms = np.sqrt((windows ** 2).mean(axis=1))
    loud = windows[rms >= 0.2 * rms.max()] if rms.max() > 0 else windows[:0]
    if not len(loud):
        return 0.0
    spectra = np.abs(np.fft.rfft(loud * np.hanning(size), n=max(rate, size), axis=1))
    freqs = np.fft.rfftfreq(max(rate, size), 1 / rate)
    return float(np.median(freqs[np.argmax(spectra[:, 1:], axis=1) + 1]))


class SpeakerRecorder:
    """Records the null sink's monitor (48 kHz mono) from start until stop."""

    def __init__(self, pulse_server: str) -> None:
        self._cmd = ["parec", f"--server={pulse_server}", f"--device={PULSE_SINK}.monitor",
                     "--raw", "--format=s16le", f"--rate={RATE}", "--channels=1",
                     "--latency-msec=20"]
        self._chunks: list[bytes] = []
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    def __enter__(self) -> SpeakerRecorder:
        self._proc = subprocess.Popen(self._cmd, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(5)
        if self._reader is not None:
            self._reader.join(5)
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()

    def _read(self) -> None:
        assert self._proc is not None
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while chunk := os.read(fd, 4096):
            with self._lock:
                self._chunks.append(chunk)

    @property
    def seconds(self) -> float:
        with self._lock:
            return sum(len(c) for c in self._chunks) / 2 / RATE

    def mark(self) -> int:
        """A position in the recording (samples so far), to look at what came after."""
        with self._lock:
            return sum(len(c) for c in self._chunks) // 2

    def samples(self, since: int = 0) -> np.ndarray:
        with self._lock:
            data = b"".join(self._chunks)
        return np.frombuffer(data[: len(data) // 2 * 2], np.int16)[since:]

    def loudness(self, since: int = 0) -> float:
        """RMS of what was played since ``since``."""
        pcm = self.samples(since).astype(np.float64)
        return float(np.sqrt(np.mean(pcm ** 2))) if len(pcm) else 0.0

    def pitch(self, since: int = 0) -> float:
        """The frequency (Hz) of what was played since ``since`` (see :func:`pitch_of`)."""
        return pitch_of(self.samples(since), RATE)
