"""Remote audio mixed into one stream for a speaker, without Qt.

Each remote audio track pushes its 16-bit PCM into its own short buffer; the
player pulls mixed samples at the pace of the audio device. A buffer keeps at
most ``max_buffered_ms`` of sound: when a track runs ahead of the device (or the
player stalls), its oldest samples are dropped, so what is heard stays live
instead of drifting behind.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 48_000
CHANNELS = 1


class AudioMixer:
    """Sums the tracks that are not muted, clipped to 16 bits."""

    def __init__(self, sample_rate: int = SAMPLE_RATE, channels: int = CHANNELS,
                 max_buffered_ms: int = 200) -> None:
        self.sample_rate, self.channels = sample_rate, channels
        self.max_samples = sample_rate * max_buffered_ms // 1000 * channels
        self._buffers: dict[str, np.ndarray] = {}
        self._muted: set[str] = set()
        self.dropped = 0  # samples dropped because a track ran ahead

    def add(self, key: str) -> None:
        self._buffers.setdefault(key, np.zeros(0, np.int16))

    def remove(self, key: str) -> None:
        self._buffers.pop(key, None)
        self._muted.discard(key)

    def set_muted(self, key: str, muted: bool) -> None:
        """Mute one track locally; its buffered sound is dropped."""
        if muted:
            self._muted.add(key)
            if key in self._buffers:
                self._buffers[key] = np.zeros(0, np.int16)
        else:
            self._muted.discard(key)

    def is_muted(self, key: str) -> bool:
        return key in self._muted

    @property
    def keys(self) -> list[str]:
        return list(self._buffers)

    def push(self, key: str, pcm: bytes | memoryview | np.ndarray) -> None:
        """Append interleaved int16 samples of one track (ignored when muted or unknown)."""
        if key in self._muted or key not in self._buffers:
            return
        samples = pcm if isinstance(pcm, np.ndarray) else np.frombuffer(pcm, np.int16)
        joined = np.concatenate((self._buffers[key], samples))
        excess = len(joined) - self.max_samples
        if excess > 0:
            self.dropped += excess
            joined = joined[excess:]
        self._buffers[key] = joined

    def clear(self) -> None:
        """Drop everything buffered (keeps the tracks and their mute state)."""
        for key in self._buffers:
            self._buffers[key] = np.zeros(0, np.int16)

    @property
    def buffered(self) -> int:
        """Samples the fullest track holds: how many a pull can return."""
        return max((len(b) for b in self._buffers.values()), default=0)

    def pull(self, max_samples: int) -> bytes:
        """Up to ``max_samples`` mixed samples (whole frames); empty when nothing waits.

        A track with fewer samples than the fullest contributes what it has: a
        late track is a short gap, never a delay for the others.
        """
        n = min(max_samples, self.buffered)
        n -= n % self.channels
        if n <= 0:
            return b""
        mixed = np.zeros(n, np.int32)
        for key, buf in self._buffers.items():
            take = min(n, len(buf))
            if take:
                mixed[:take] += buf[:take]
                self._buffers[key] = buf[take:]
        return np.clip(mixed, -32768, 32767).astype(np.int16).tobytes()
