"""Publisher bots: participants that publish a moving test pattern and a tone.

Each bot joins a room with the LiveKit Python SDK and publishes one I420 video
track (diagonal bands scrolling across a colour of its own, so every frame differs
from the last) and one 48 kHz mono audio track (a sine tone). With ``--stamp-time``
every video frame carries its capture time (wall clock, µs) in the SDK's frame
metadata (a trailer on each packet that only LiveKit's SDKs read, hence not by
default), so a subscriber can measure how far behind its picture is. With
``--simulcast`` the video goes out as simulcast layers (the SDK makes 320x180, 640x360
and the full size from 960x540 up; a 640x360 source gets two layers of the same size
at different bitrates).

    python -m recconsole_devtools.bot --room demo --count 3 --size 640x360 --fps 30
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import signal
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from livekit import rtc

from recconsole.core.livekit_server import ws_url
from recconsole.core.tokens import mint_token

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
AUDIO_FRAME_MS = 20


@dataclass(frozen=True)
class BotOptions:
    """What a bot publishes."""

    width: int = 640
    height: int = 360
    fps: float = 30.0
    tone_hz: float = 440.0
    video: bool = True
    audio: bool = True
    simulcast: bool = False
    stamp_time: bool = False  # capture time in each frame's metadata


class MovingPattern:
    """Moving I420 frames: bands that scroll by a few pixels per frame over a bot colour."""

    def __init__(self, width: int, height: int, hue: int) -> None:
        self.width, self.height = width, height
        # One wide gradient row per line; a frame is a window into it at an offset.
        x = np.arange(width * 2, dtype=np.int32)
        y = np.arange(height, dtype=np.int32)[:, None]
        self._luma = ((np.sin((x + y) * (2 * math.pi / 96)) + 1.0) * 90 + 30).astype(np.uint8)
        cw, ch = (width + 1) // 2, (height + 1) // 2
        angle = hue * 2 * math.pi / 360
        self._u = np.full((ch, cw), int(128 + 60 * math.cos(angle)), np.uint8)
        self._v = np.full((ch, cw), int(128 + 60 * math.sin(angle)), np.uint8)
        self._frame = 0

    def next_frame(self) -> rtc.VideoFrame:
        offset = (self._frame * 4) % self.width
        self._frame += 1
        y_plane = self._luma[:, offset:offset + self.width]
        data = b"".join((y_plane.tobytes(), self._u.tobytes(), self._v.tobytes()))
        return rtc.VideoFrame(self.width, self.height, rtc.VideoBufferType.I420, data)


def tone_frames(freq: float) -> list[rtc.AudioFrame]:
    """One second of a sine tone, cut into frames that loop without a click."""
    n = SAMPLE_RATE * AUDIO_FRAME_MS // 1000
    cycles = max(1, round(freq))  # an integer number of cycles per second loops cleanly
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    pcm = (np.sin(2 * math.pi * cycles * t) * 6000).astype(np.int16)
    return [
        rtc.AudioFrame(pcm[i:i + n].tobytes(), SAMPLE_RATE, 1, n)
        for i in range(0, SAMPLE_RATE, n)
    ]


class PublisherBot:
    """One participant publishing a test pattern and a tone until stopped."""

    def __init__(self, url: str, token: str, options: BotOptions = BotOptions(), hue: int = 0):
        self.url, self.token, self.options, self.hue = ws_url(url), token, options, hue
        self.room = rtc.Room()
        self.frames_sent = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Join and begin publishing; returns once the tracks are published."""
        # A bot only publishes: subscribed, it would decode every other bot's video (a
        # room of 9 would run 72 decoders) and starve the machine it measures.
        await self.room.connect(self.url, self.token, rtc.RoomOptions(auto_subscribe=False))
        opts = self.options
        if opts.video:
            source = rtc.VideoSource(opts.width, opts.height)
            track = rtc.LocalVideoTrack.create_video_track("pattern", source)
            await self.room.local_participant.publish_track(track, rtc.TrackPublishOptions(
                source=rtc.TrackSource.SOURCE_CAMERA, simulcast=opts.simulcast,
                frame_metadata_features=(
                    [rtc.FrameMetadataFeature.FMF_USER_TIMESTAMP] if opts.stamp_time else [])))
            self._tasks.append(asyncio.create_task(self._pump_video(source)))
        if opts.audio:
            audio = rtc.AudioSource(SAMPLE_RATE, 1)
            atrack = rtc.LocalAudioTrack.create_audio_track("tone", audio)
            await self.room.local_participant.publish_track(
                atrack, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
            self._tasks.append(asyncio.create_task(self._pump_audio(audio)))

    async def _pump_video(self, source: rtc.VideoSource) -> None:
        pattern = MovingPattern(self.options.width, self.options.height, self.hue)
        period = 1.0 / self.options.fps
        next_at = time.monotonic()
        while True:
            source.capture_frame(pattern.next_frame(), metadata=rtc.FrameMetadata(
                user_timestamp=time.time_ns() // 1000) if self.options.stamp_time else None)
            self.frames_sent += 1
            next_at += period
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def _pump_audio(self, source: rtc.AudioSource) -> None:
        frames = tone_frames(self.options.tone_hz)
        period = AUDIO_FRAME_MS / 1000
        next_at = time.monotonic()
        i = 0
        while True:
            await source.capture_frame(frames[i % len(frames)])
            i += 1
            next_at += period
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def stop(self) -> None:
        """Stop publishing and leave the room."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.room.disconnect()


async def start_bots(
    url: str, api_key: str, api_secret: str, room: str, count: int,
    options: BotOptions = BotOptions(), prefix: str = "bot",
) -> list[PublisherBot]:
    """Start ``count`` bots in ``room``, each with its own colour; all joined on return.

    A few join at a time, so that a large room's bots do not all negotiate at once on
    a busy machine.
    """
    joining = asyncio.Semaphore(4)

    async def start(bot: PublisherBot) -> None:
        async with joining:
            await bot.start()

    bots = [
        PublisherBot(
            url,
            mint_token(api_key, api_secret, room, f"{prefix}-{i + 1}", f"Bot {i + 1}"),
            options,
            hue=(i * 137) % 360,
        )
        for i in range(count)
    ]
    try:
        await asyncio.gather(*(start(bot) for bot in bots))
    except BaseException:
        await asyncio.gather(*(bot.stop() for bot in bots), return_exceptions=True)
        raise
    return bots


def _parse_size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    return int(w), int(h)


async def _run(args: argparse.Namespace) -> None:
    width, height = args.size
    options = BotOptions(width, height, args.fps, video=not args.no_video,
                         audio=not args.no_audio, simulcast=args.simulcast,
                         stamp_time=args.stamp_time)
    bots = await start_bots(args.url, args.api_key, args.api_secret, args.room, args.count,
                            options, prefix=args.identity_prefix)
    log.info("%d bot(s) publishing in room %r at %s", len(bots), args.room, args.url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await asyncio.gather(*(bot.stop() for bot in bots), return_exceptions=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bot", description=__doc__.splitlines()[0])
    parser.add_argument("--room", default="demo")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--size", type=_parse_size, default=(640, 360), help="WxH, e.g. 640x360")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--no-video", action="store_true")
    parser.add_argument("--no-audio", action="store_true")
    parser.add_argument("--simulcast", action="store_true",
                        help="publish the video as simulcast layers")
    parser.add_argument("--stamp-time", action="store_true",
                        help="put each frame's capture time in its metadata")
    parser.add_argument("--identity-prefix", default="bot")
    parser.add_argument("--url", default=os.environ.get("LIVEKIT_URL", "http://localhost:7880"))
    parser.add_argument("--api-key", default=os.environ.get("LIVEKIT_API_KEY", "devkey"))
    parser.add_argument("--api-secret", default=os.environ.get("LIVEKIT_API_SECRET", "secret"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="bot: %(message)s")
    # The dev stack's secret is the tutorials' short "secret"; PyJWT would say so per token.
    warnings.filterwarnings("ignore", message="The HMAC key is .* below the minimum")
    asyncio.run(_run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
