"""A process that records a synthetic room into a spool folder until it is killed.

``python -m tests.helpers.spooling_recorder SPOOL ROOM ROOM_ID`` feeds a
:class:`FrameTap` with a moving picture and a tone, as a session would, and prints
``recording`` once the file has its first fragment. Tests kill it (SIGKILL) to
leave what a crash leaves.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from livekit import rtc

from recconsole.realtime.local_recording import FrameTap, LocalRecording
from recconsole.realtime.spool import Spool

WIDTH, HEIGHT, TONE_HZ = 320, 180, 730.0


def main(folder: str, room: str, room_id: str) -> None:
    spooled = Spool(Path(folder)).new(room, room_id, datetime.now(UTC))
    tap = FrameTap()
    tap.participant_joined("bot", "Bot")
    tap.video_added("TR_video", "bot")
    tap.audio_added("TR_audio")
    recording = LocalRecording(tap, spooled.video, width=320, height=180, fps=15)
    recording.start()
    said = False
    for n in range(10**9):
        picture = np.full(WIDTH * HEIGHT * 3 // 2, 128, np.uint8)
        picture[: WIDTH * HEIGHT].reshape(HEIGHT, WIDTH)[:, :] = (np.arange(WIDTH) + 8 * n) % 256
        tap.video_frame("TR_video", rtc.VideoFrame(WIDTH, HEIGHT, rtc.VideoBufferType.I420,
                                                   picture.tobytes()))
        t = np.arange(480 * 4) + n * 480 * 4
        pcm = (8000 * np.sin(2 * np.pi * TONE_HZ * t / 48_000)).astype(np.int16)
        tap.audio_frame("TR_audio", rtc.AudioFrame(pcm.tobytes(), 48_000, 1, len(pcm)))
        if not said and recording.stats.elapsed > 2.5:
            print("recording", spooled.id, flush=True)
            said = True
        time.sleep(0.04)


if __name__ == "__main__":
    main(*sys.argv[1:4])
