"""The moderator's own camera and microphone, published into the joined room.

Capture (Qt Multimedia, or a synthetic source in tests) hands frames over without
waiting: video frames go straight to the SDK's VideoSource; microphone bytes are
cut into 10 ms frames and sent by one task in order, keeping at most half a
second queued (older sound is dropped rather than delayed).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from livekit import rtc

from recconsole.realtime.audio import CHANNELS, SAMPLE_RATE

FRAME_SAMPLES = SAMPLE_RATE // 100  # 10 ms
MAX_QUEUED_FRAMES = 50


class LocalVideo:
    """A published camera track; :meth:`push` sends one frame (any size, RGBA or I420)."""

    def __init__(self, source: rtc.VideoSource, sid: str) -> None:
        self.source, self.sid = source, sid
        self.frames_sent = 0

    def push(self, frame: rtc.VideoFrame) -> None:
        self.source.capture_frame(frame)
        self.frames_sent += 1

    async def aclose(self) -> None:
        await self.source.aclose()


class LocalAudio:
    """A published microphone track fed with 48 kHz mono 16-bit PCM bytes."""

    def __init__(self, source: rtc.AudioSource, sid: str) -> None:
        self.source, self.sid = source, sid
        self.frames_sent = 0
        self.frames_dropped = 0
        self._pending = bytearray()
        self._frames: deque[bytes] = deque()
        self._ready = asyncio.Event()
        self._task = asyncio.ensure_future(self._send())

    def push(self, pcm: bytes) -> None:
        """Queue captured sound; never waits."""
        self._pending += pcm
        size = FRAME_SAMPLES * CHANNELS * 2
        while len(self._pending) >= size:
            self._frames.append(bytes(self._pending[:size]))
            del self._pending[:size]
        while len(self._frames) > MAX_QUEUED_FRAMES:
            self._frames.popleft()
            self.frames_dropped += 1
        if self._frames:
            self._ready.set()

    async def _send(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._frames:
                data = self._frames.popleft()
                await self.source.capture_frame(
                    rtc.AudioFrame(data, SAMPLE_RATE, CHANNELS, FRAME_SAMPLES))
                self.frames_sent += 1

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.source.aclose()
