"""The moderator's own camera and microphone, published by the console window.

No camera exists here: the camera is a synthetic source (a QVideoSink fed QImage
frames, as a QCamera's capture session would feed it). The microphone is real: the
default input is the test PulseAudio's microphone, fed a tone by pacat.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from livekit import rtc
from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QImage
from PySide6.QtMultimedia import QVideoFrame, QVideoSink
from pytestqt.qtbot import QtBot

from recconsole.core.livekit_server import ws_url
from recconsole.core.tokens import mint_token
from recconsole.settings import Settings
from recconsole.ui.app import build_services, shutdown
from recconsole.ui.main_window import MainWindow
from recconsole_devtools.devstack import API_KEY, API_SECRET, PULSE_MIC_FEED, StackConfig
from tests.e2e.conftest import next_emission
from tests.helpers.rooms import TEST_APP, unique_room
from tests.helpers.sound import RATE
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e
ORANGE = (230, 120, 30)


class SyntheticCamera:
    """Solid orange 320x240 frames at 30 fps into a QVideoSink, like a capture session."""

    def __init__(self) -> None:
        self.sink = QVideoSink()
        self._image = QImage(320, 240, QImage.Format.Format_RGB32)
        self._image.fill(QColor(*ORANGE))
        self._timer = QTimer()
        self._timer.setInterval(33)  # the camera's own clock
        # A new frame each time, as from a camera (the sink ignores the same one twice).
        self._timer.timeout.connect(lambda: self.sink.setVideoFrame(QVideoFrame(self._image)))
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()


class Watcher:
    """A second SDK participant that keeps what the console publishes."""

    def __init__(self) -> None:
        self.room = rtc.Room()
        self.video: list[rtc.VideoFrame] = []
        self.audio = bytearray()
        self.kinds: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self.room.on("track_subscribed", self._subscribed)
        self.room.on("track_unpublished", lambda pub, _p: self.kinds.discard(
            "video" if pub.kind == rtc.TrackKind.KIND_VIDEO else "audio"))

    def _subscribed(self, track: rtc.Track, _pub: object, who: rtc.RemoteParticipant) -> None:
        if not who.identity.startswith("console-"):
            return
        if track.kind == rtc.TrackKind.KIND_VIDEO:
            self.kinds.add("video")
            self._tasks.append(asyncio.ensure_future(self._frames(track)))
        else:
            self.kinds.add("audio")
            self._tasks.append(asyncio.ensure_future(self._sound(track)))

    async def _frames(self, track: rtc.Track) -> None:
        async for event in rtc.VideoStream(track, format=rtc.VideoBufferType.RGBA):
            self.video.append(event.frame)

    async def _sound(self, track: rtc.Track) -> None:
        async for event in rtc.AudioStream(track, sample_rate=RATE, num_channels=1):
            self.audio += bytes(event.frame.data)

    def last(self, seconds: float) -> np.ndarray:
        """The last ``seconds`` of sound received."""
        return np.frombuffer(bytes(self.audio[-int(RATE * seconds) * 2:]), np.int16)

    async def leave(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.room.disconnect()


def _mean_rgb(frame: rtc.VideoFrame) -> tuple[float, ...]:
    pixels = np.frombuffer(frame.data, np.uint8).reshape(frame.height, frame.width, 4)
    return tuple(float(c) for c in pixels[..., :3].reshape(-1, 3).mean(axis=0))


def _loudness(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) if len(pcm) else 0.0


def _pitch(pcm: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm))))
    return float(np.fft.rfftfreq(len(pcm), 1 / RATE)[int(np.argmax(spectrum[1:])) + 1])


def test_camera_and_microphone_reach_the_room(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, livekit_server: StackConfig,
    silent_speaker: StackConfig, tmp_path: Path,
) -> None:
    settings = Settings.from_env({**livekit_server.env(), "APP_NAME": TEST_APP,
                                  "REDIS_URL": ""})
    room = unique_room("publish")
    window = MainWindow(build_services(settings), room=room)
    qtbot.addWidget(window)
    window.show()
    camera = SyntheticCamera()
    t = np.arange(RATE * 20) / RATE
    tone = tmp_path / "tone.raw"
    tone.write_bytes((np.sin(2 * np.pi * 660 * t) * 8000).astype(np.int16).tobytes())
    play_tone = ["pacat", f"--server={silent_speaker.pulse_server}",
                 f"--device={PULSE_MIC_FEED}", "--raw", "--format=s16le", f"--rate={RATE}",
                 "--channels=1", str(tone)]

    async def scenario() -> None:
        player: asyncio.subprocess.Process | None = None
        watcher = Watcher()
        await watcher.room.connect(ws_url(livekit_server.livekit_url),
                                   mint_token(API_KEY, API_SECRET, room, "watcher",
                                              observer=True))
        try:
            joined = next_emission(window.joinedChanged)
            window.join_button.click()
            assert await asyncio.wait_for(joined, 20) == (True,)
            assert not window.camera_button.isEnabled()  # no camera on this machine
            assert "No camera" in window.camera_button.toolTip()
            assert window.microphone_button.isEnabled()  # the test microphone

            published = next_emission(window.media.cameraChanged)
            window.room_view.set_preview("You")
            window.media.preview = window.room_view.preview.sink
            window.media.start_camera(window.session, frames=camera.sink)
            assert await asyncio.wait_for(published, 15) == (True,)
            await eventually(lambda: len(watcher.video) >= 10, True, within=20)
            red, green, blue = _mean_rgb(watcher.video[-1])
            assert red == pytest.approx(ORANGE[0], abs=25)
            assert green == pytest.approx(ORANGE[1], abs=25)
            assert blue == pytest.approx(ORANGE[2], abs=25)
            assert window.room_view.preview.frames_received > 0

            player = await asyncio.create_subprocess_exec(*play_tone,
                                                          stderr=asyncio.subprocess.DEVNULL)
            window.microphone_button.click()
            await eventually(lambda: window.media.audio is not None, True)
            assert window.microphone_button.isChecked()
            # The received track is silent until the first packets: wait for sound.
            await eventually(lambda: _loudness(watcher.last(0.5)) > 500, True, within=20)
            heard = len(watcher.audio)  # then half a second more, all of it the tone
            await eventually(lambda: len(watcher.audio) - heard >= RATE, True)
            pcm = watcher.last(0.5)
            assert _pitch(pcm) == pytest.approx(660, abs=8)

            stopped = next_emission(window.media.cameraChanged)
            window.media.stop_camera()
            assert await asyncio.wait_for(stopped, 5) == (False,)
            await eventually(lambda: "video" in watcher.kinds, False)
            window.microphone_button.click()
            await eventually(lambda: "audio" in watcher.kinds, False)
            assert window.room_view.preview is None
        finally:
            if player is not None and player.returncode is None:
                player.kill()
                await player.wait()
            camera.stop()
            await watcher.leave()
            await shutdown(window)

    qloop.run_until_complete(scenario())
