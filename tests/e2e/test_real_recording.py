"""Recording for real: the console starts and stops the LiveKit egress service of the
dev stack, which records a room with two publisher bots into MinIO.

Nothing is posted by the test: LiveKit sends the egress webhooks to the console's
embedded listener, which updates the room metadata and writes the tutorial's
metadata file; the recording then plays in QMediaPlayer.
"""

from __future__ import annotations

import asyncio
import io
import time

import av
import numpy as np
import pytest
from livekit import api, rtc
from PySide6.QtCore import QUrl
from PySide6.QtMultimedia import QMediaPlayer, QVideoSink
from pytestqt.qtbot import QtBot

from recconsole.core.errors import AlreadyRecording
from recconsole.core.livekit_server import parse_metadata, ws_url
from recconsole.core.recording_info import MetadataState
from recconsole.core.recording_status import RecordingStatus
from recconsole.core.tokens import mint_token
from recconsole.settings import Settings
from recconsole.ui.app import build_services, shutdown, start_listener
from recconsole.ui.main_window import MainWindow
from recconsole_devtools.bot import BotOptions, PublisherBot, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.e2e.conftest import next_emission
from tests.helpers.rooms import TEST_APP, unique_room
from tests.helpers.sound import PITCH_HZ, pitch_of
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e
RECORD_FOR = 6.0  # seconds between the recording becoming active and Stop
TONE_HZ = 660.0  # the bots' tone: not a default anything else would produce


def test_the_console_records_a_room_for_real(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, egress_stack: StackConfig,
) -> None:
    cfg = egress_stack
    settings = Settings.from_env({**cfg.env(), "APP_NAME": TEST_APP, "REDIS_URL": "",
                                  "SERVER_PORT": str(cfg.ports.webhook)})
    room = unique_room("real-rec")
    window = MainWindow(build_services(settings), room=room)
    qtbot.addWidget(window)
    window.show()
    other_console = build_services(settings)

    async def scenario() -> None:
        listener = await start_listener(window)
        assert listener is not None, window.event_log.toPlainText()
        bots: list[PublisherBot] = []
        watcher = rtc.Room()
        statuses: list[str] = []
        watcher.on("room_metadata_changed", lambda _old, new: statuses.append(
            str(parse_metadata(new).get("recordingStatus"))))
        try:
            # The console joins first: it creates the room with this app's metadata, so
            # the listener acts on the room's webhooks (a room some other app created
            # is left alone).
            joined = next_emission(window.joinedChanged)
            window.join_button.click()
            assert await asyncio.wait_for(joined, 20) == (True,)
            bots = await start_bots(cfg.livekit_url, API_KEY, API_SECRET, room, 2,
                                    BotOptions(width=320, height=180, fps=15,
                                               tone_hz=TONE_HZ))
            await watcher.connect(ws_url(cfg.livekit_url),
                                  mint_token(API_KEY, API_SECRET, room, "watcher",
                                             observer=True))

            window.record_button.click()
            await eventually(lambda: window.status, RecordingStatus.STARTED, within=60)
            started_shown = time.time()  # the window's recording clock starts here
            await eventually(lambda: "STARTED" in statuses, True)
            assert statuses[0] == "STARTING"
            assert window.record_button.text() == "Stop recording"

            # A second console starting the same room is told it is already recorded.
            with pytest.raises(AlreadyRecording, match="already being recorded"):
                await other_console.recorder.start(room)

            egress = await _active_egress(other_console.server.lkapi, room)
            recording_since = time.monotonic()  # ACTIVE: the file is being written
            await eventually(lambda: time.monotonic() - recording_since >= RECORD_FOR, True,
                             within=30)
            window.record_button.click()
            stopped_at, stopped_wall = time.monotonic(), time.time()
            await eventually(lambda: window.status, RecordingStatus.STOPPED, within=60)
            assert statuses[-2:] == ["STOPPING", "STOPPED"]

            # The recording shows in both tables without a refresh.
            model = window.recordings.model
            await eventually(lambda: model.total > 0 and window.room_recordings.model.total > 0,
                             True, within=30)
            listed_after = time.monotonic() - stopped_at
            info = window.room_recordings.model.info(0)
            assert info.room_name == room
            assert info.name.startswith(f"{room}-")
            assert info.name.endswith(".mp4")
            assert info.metadata is MetadataState.OK
            assert info.size > 10_000
            ended = await _egress(other_console.server.lkapi, egress.egress_id)
            file = ended.file_results[0]
            span = (file.ended_at - file.started_at) / 1e9  # what the file holds
            assert span >= RECORD_FOR - 1
            assert info.duration == pytest.approx(span, abs=1.0)
            stored = await other_console.catalog.get(info.name)
            assert stored == info
            # Its thumbnail, stored beside the metadata before the tables were told: a
            # frame of the bots' pattern, not the black of the egress's first moment.
            thumbnail = _luma(await other_console.catalog.store.read_bytes(
                other_console.catalog.thumbnail_key(info.name)))
            assert thumbnail.shape[1] == 320
            assert thumbnail.mean() > 20, "the thumbnail is black"
            # No egress manifest beside it: the console asks for none, as the tutorial.
            assert not await other_console.catalog.store.exists(
                other_console.catalog.manifest_key(info.name))
            print(f"\nstop to listed: {listed_after:.2f} s; recorded span {span:.2f} s")

            # What the file holds: the bots' tone, their moving pattern, and as long as
            # the window's clock ran (from STARTED shown to the moderator's Stop).
            data = await other_console.catalog.store.read_bytes(
                other_console.catalog.recording_key(info.name))
            content = _content(data)
            elapsed = stopped_wall - started_shown  # what the window's clock said
            print(f"pitch {content.pitch:.1f} Hz; duration {content.duration:.2f} s;"
                  f" clock {elapsed:.2f} s; file span {span:.2f} s;"
                  f" frame change {content.change:.1f}")
            assert content.pitch == pytest.approx(TONE_HZ, abs=PITCH_HZ)
            assert content.change > 1.0, "the recorded video does not move"
            assert content.bright > 20, "the recorded video is black"
            # The file holds all the time the clock showed; the egress then writes what
            # its pipeline still held at Stop (measured: 0.7-1.1 s idle, 1.8 s at CI's
            # load), never much more.
            assert elapsed - 0.25 <= content.duration <= elapsed + 3.0

            # The player plays the whole file: what the pipeline wrote past the egress's
            # own end too (its span, which the table shows, stops at Stop: 6.2 s listed
            # for 7.5 s of media seen at CI's load).
            url = await other_console.catalog.playback_url(info.name, 600)
            duration = await _played_duration(url)
            assert duration == pytest.approx(content.duration, abs=0.5)
        finally:
            await watcher.disconnect()
            await asyncio.gather(*(bot.stop() for bot in bots))
            await other_console.catalog.store.aclose()
            await other_console.recorder.aclose()
            await other_console.server.aclose()
            await shutdown(window, listener)

    qloop.run_until_complete(scenario())


class _Content:
    """What a recorded MP4 holds, read with PyAV."""

    def __init__(self, pitch: float, change: float, bright: float, duration: float) -> None:
        self.pitch = pitch  # the frequency most of the sound is at, Hz (see pitch_of)
        self.change = change  # mean luma difference between frames 2 s apart
        self.bright = bright  # mean luma of the middle frame
        self.duration = duration  # of the media in it, s


def _luma(jpeg: bytes) -> np.ndarray:
    """The brightness of each pixel of a JPEG."""
    with av.open(io.BytesIO(jpeg)) as picture:
        return next(picture.decode(video=0)).reformat(format="gray").to_ndarray()


def _content(data: bytes) -> _Content:
    spans: list[tuple[float, float]] = []  # (first, end) of each stream, s
    with av.open(io.BytesIO(data)) as container:
        audio = container.streams.audio[0]
        rate, base = audio.rate, float(audio.time_base or 0)
        samples, pts = [], []
        for frame in container.decode(audio):
            pcm = frame.to_ndarray()  # planar: a row per channel; packed: interleaved
            channels = len(frame.layout.channels)
            samples.append(pcm.mean(axis=0) if frame.format.is_planar
                           else pcm.reshape(-1, channels).mean(axis=1))
            pts.append((frame.pts * base, (frame.pts + frame.samples) * base))
        spans.append((pts[0][0], pts[-1][1]))
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        base, step = float(video.time_base or 0), 1 / float(video.average_rate or 30)
        lumas = [(f.pts * base, f.to_ndarray(format="gray").astype(float))
                 for f in container.decode(video)]
        spans.append((lumas[0][0], lumas[-1][0] + step))
    pcm = np.concatenate(samples)[rate:]  # past the first second (the start settles)
    pitch = pitch_of(pcm, rate)
    middle = len(lumas) // 2
    later = next(i for i, (t, _) in enumerate(lumas) if t >= lumas[middle][0] + 2.0)
    change = float(np.abs(lumas[middle][1] - lumas[later][1]).mean())
    duration = max(end for _, end in spans) - min(first for first, _ in spans)
    return _Content(pitch, change, float(lumas[middle][1].mean()), duration)


async def _active_egress(lkapi: api.LiveKitAPI, room: str) -> api.EgressInfo:
    found = await lkapi.egress.list_egress(api.ListEgressRequest(room_name=room, active=True))
    assert len(found.items) == 1
    return found.items[0]


async def _egress(lkapi: api.LiveKitAPI, egress_id: str) -> api.EgressInfo:
    found = await lkapi.egress.list_egress(api.ListEgressRequest(egress_id=egress_id))
    return found.items[0]


async def _played_duration(url: str) -> float:
    """Play the file in QMediaPlayer until its position advances; its duration in s."""
    player, sink = QMediaPlayer(), QVideoSink()
    player.setVideoSink(sink)
    frames: list[int] = []
    sink.videoFrameChanged.connect(lambda frame: frames.append(frame.startTime()))
    player.setSource(QUrl(url))
    player.play()
    try:
        await eventually(lambda: player.playbackState(),
                         QMediaPlayer.PlaybackState.PlayingState, within=20)
        await eventually(lambda: player.position() > 500, True, within=20)
        assert len(frames) > 5, player.errorString()
        return player.duration() / 1000
    finally:
        player.stop()
