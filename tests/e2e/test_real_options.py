"""Recording options, recorded for real by the dev stack's egress and checked in the file.

Each test starts the console's Recorder with options, lets LiveKit's own webhooks reach
the console's headless listener (which writes the metadata files), and opens what egress
wrote with PyAV: which streams it has, its frame size and its duration. One egress
stack serves them all; run them one at a time (egress runs Chrome).
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import av
import pytest
import pytest_asyncio
from livekit import api
from PySide6.QtCore import QUrl
from PySide6.QtMultimedia import QMediaPlayer, QVideoSink
from PySide6.QtWidgets import QApplication

from recconsole.core.errors import ConsoleError
from recconsole.core.livekit_server import LiveKitServer
from recconsole.core.recorder import Recorder, StartOptions
from recconsole.core.recording_info import RecordingInfo, segments_folder
from recconsole.core.recording_options import (
    Advanced,
    BadRecordingOptions,
    Content,
    Layout,
    OutputFormat,
    Preset,
    RecordingOptions,
)
from recconsole.core.recording_status import RecordingStatus
from recconsole.server.listener import WebhookListener
from recconsole.server.playback import recording_path
from recconsole.storage.catalog import RecordingsCatalog
from recconsole_devtools.bot import BotOptions, PublisherBot, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.helpers.rooms import unique_room
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]
S = api.EgressStatus
RECORD_FOR = 5.0  # seconds of ACTIVE recording before Stop
SMALL = BotOptions(width=320, height=180, fps=15)


@pytest_asyncio.fixture
async def room(server: LiveKitServer, egress_stack: StackConfig) -> AsyncIterator[str]:
    """A room this app created, with two publisher bots in it."""
    name = unique_room("options")
    await server.ensure_room(name)
    bots: list[PublisherBot] = await start_bots(egress_stack.livekit_url, API_KEY, API_SECRET,
                                                name, 2, SMALL)
    yield name
    await asyncio.gather(*(bot.stop() for bot in bots))


async def _live(server: LiveKitServer, room: str) -> list[api.EgressInfo]:
    return [e for e in await server.list_egress(room, active=True)
            if e.status in (S.EGRESS_STARTING, S.EGRESS_ACTIVE)]


async def _active_count(server: LiveKitServer, room: str) -> int:
    return sum(e.status == S.EGRESS_ACTIVE for e in await _live(server, room))


async def _record(recorder: Recorder, room: str, options: RecordingOptions,
                  files: int = 1) -> None:
    """Start with ``options``, record RECORD_FOR s once every file is ACTIVE, stop."""
    await recorder.start(room, StartOptions(recording=options))
    await eventually(lambda: _active_count(recorder.server, room), files, within=60)
    since = time.monotonic()
    await eventually(lambda: time.monotonic() - since >= RECORD_FOR, True, within=30)
    await recorder.stop(room)
    await eventually(lambda: _live(recorder.server, room), [], within=60)


async def _listed(catalog: RecordingsCatalog, server: LiveKitServer, room: str,
                  count: int) -> list[RecordingInfo]:
    """The room's recordings once ``count`` of them are listed with their metadata."""
    found = await server.get_room(room)
    assert found is not None

    async def complete() -> int:
        rows = await catalog.list_recordings(found.sid)
        return sum(r.duration > 0 for r in rows)

    await eventually(complete, count, within=60)
    return await catalog.list_recordings(found.sid)


async def _bytes(catalog: RecordingsCatalog, name: str) -> bytes:
    return await catalog.store.read_bytes(catalog.recording_key(name))


def _streams(data: bytes) -> tuple[int, int, tuple[int, int] | None, float]:
    """(audio streams, video streams, (width, height) of the video, duration s)."""
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video
        size = (video[0].codec_context.width, video[0].codec_context.height) if video else None
        duration = (container.duration or 0) / av.time_base
        return len(container.streams.audio), len(video), size, duration


async def test_audio_only_has_no_video_stream(
    recorder: Recorder, listener: WebhookListener, room: str,
) -> None:
    await _record(recorder, room, RecordingOptions(content=Content.AUDIO_ONLY))
    [info] = await _listed(listener.catalog, recorder.server, room, 1)
    assert info.name.endswith(".mp4")
    assert info.extra == {"kind": "room", "layout": "grid", "options": {"content": "audio"}}
    audio, video, _size, duration = _streams(await _bytes(listener.catalog, info.name))
    assert (audio, video) == (1, 0)
    assert duration == pytest.approx(info.duration, abs=1.0)
    assert duration >= RECORD_FOR - 1


async def test_audio_only_as_ogg(
    recorder: Recorder, listener: WebhookListener, room: str,
) -> None:
    await _record(recorder, room, RecordingOptions(content=Content.AUDIO_ONLY,
                                                   output=OutputFormat.OGG))
    [info] = await _listed(listener.catalog, recorder.server, room, 1)
    assert info.name.endswith(".ogg")
    audio, video, _size, _duration = _streams(await _bytes(listener.catalog, info.name))
    assert (audio, video) == (1, 0)
    assert info.duration >= RECORD_FOR - 1


async def test_speaker_layout_at_1080p30_is_1920_by_1080(
    recorder: Recorder, listener: WebhookListener, room: str,
) -> None:
    await _record(recorder, room, RecordingOptions(layout=Layout.SPEAKER,
                                                   preset=Preset.P1080_30))
    [info] = await _listed(listener.catalog, recorder.server, room, 1)
    assert info.extra == {"kind": "room", "layout": "speaker",
                          "options": {"preset": "1080p30"}}
    audio, video, size, duration = _streams(await _bytes(listener.catalog, info.name))
    assert (audio, video, size) == (1, 1, (1920, 1080))
    assert duration >= RECORD_FOR - 1


async def test_one_participants_recording(
    recorder: Recorder, listener: WebhookListener, room: str,
) -> None:
    await _record(recorder, room, RecordingOptions(participant="bot-2",
                                                   preset=Preset.P720_30))
    [info] = await _listed(listener.catalog, recorder.server, room, 1)
    assert info.extra["kind"] == "participant"
    assert info.extra["participant"] == "bot-2"
    audio, video, size, duration = _streams(await _bytes(listener.catalog, info.name))
    assert (audio, video, size) == (1, 1, (1280, 720))
    assert duration >= RECORD_FOR - 1


async def test_each_participant_separately_and_whoever_joins(
    recorder: Recorder, listener: WebhookListener, room: str, egress_stack: StackConfig,
) -> None:
    await recorder.start(room, StartOptions(recording=RecordingOptions(each_participant=True)))
    await eventually(lambda: _active_count(recorder.server, room), 2, within=60)
    late: list[PublisherBot] = await start_bots(egress_stack.livekit_url, API_KEY, API_SECRET,
                                                room, 1, SMALL, prefix="late")
    try:
        joined = next(p for p in await recorder.server.list_participants(room)
                      if p.identity == "late-1")
        # The newcomer is recorded by this call or, first, by the listener that heard
        # LiveKit's participant_joined: either way once, never twice.
        await recorder.participant_joined(room, joined)
        assert await recorder.participant_joined(room, joined) is None  # recorded already
        await eventually(lambda: _active_count(recorder.server, room), 3, within=60)
        since = time.monotonic()
        await eventually(lambda: time.monotonic() - since >= RECORD_FOR, True, within=30)
        await recorder.stop(room)  # all three together
        await eventually(lambda: _live(recorder.server, room), [], within=60)
    finally:
        await asyncio.gather(*(bot.stop() for bot in late))
    rows = await _listed(listener.catalog, recorder.server, room, 3)
    assert sorted(r.extra["participant"] for r in rows) == ["bot-1", "bot-2", "late-1"]
    assert len({r.extra["session"] for r in rows}) == 1  # one session: grouped
    for row in rows:
        audio, video, size, _duration = _streams(await _bytes(listener.catalog, row.name))
        assert (audio, video) == (1, 1)
        assert size is not None
        assert row.duration >= RECORD_FOR - 1
    # The last file's metadata is written before the room's status is (its effect writes
    # the file first): the status follows a moment later.
    await eventually(lambda: recorder.server.recording_status(room), RecordingStatus.STOPPED,
                     within=30)


async def test_hls_is_a_playlist_and_its_segments_listed_once(
    recorder: Recorder, listener: WebhookListener, room: str, tmp_path: Path, qapp: QApplication,
) -> None:
    await _record(recorder, room, RecordingOptions(output=OutputFormat.HLS))
    [info] = await _listed(listener.catalog, recorder.server, room, 1)
    assert info.name.endswith(".m3u8")
    catalog = listener.catalog
    playlist = (await _bytes(catalog, info.name)).decode()
    segments = [line for line in playlist.splitlines() if line and not line.startswith("#")]
    assert len(segments) >= 2, playlist
    folder = segments_folder(info.name)
    assert all(s.startswith(folder.rsplit("/", 2)[-2] + "/") for s in segments), playlist
    # Download the playlist beside its segments, as they are in the bucket, and read it.
    (tmp_path / info.name).write_text(playlist)
    for segment in segments:
        target = tmp_path / segment
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(await catalog.store.read_bytes(catalog.recordings_path + segment))
    with av.open(str(tmp_path / info.name)) as container:
        assert len(container.streams.audio) == 1
        assert (container.streams.video[0].codec_context.width,
                container.streams.video[0].codec_context.height) == (1280, 720)
    assert info.duration >= RECORD_FOR - 1
    # QMediaPlayer plays it through the listener's PROXY route, segments and all.
    played = await _play(f"http://127.0.0.1:{listener.port}{recording_path(info.name)}")
    assert played == pytest.approx(info.duration, abs=1.5)
    # Deleting the recording takes its segments with it.
    await catalog.delete(info.name)
    left = [o async for page in catalog.store.list_pages(catalog.recordings_path + folder)
            for o in page]
    assert left == []


async def test_a_participant_not_in_the_room_is_refused_before_egress_is_asked(
    recorder: Recorder, listener: WebhookListener, room: str,
) -> None:
    with pytest.raises(BadRecordingOptions, match="'nobody-here' is not in the room"):
        await recorder.start(room, StartOptions(
            recording=RecordingOptions(participant="nobody-here")))
    assert await _live(recorder.server, room) == []
    assert await listener.locks.owner(room) is None


async def test_what_egress_refuses_ends_failed_with_its_reason(
    recorder: Recorder, listener: WebhookListener, room: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An odd width, let past the console's own checks (which refuse it first) so that
    # the egress service itself judges the request.
    monkeypatch.setattr(RecordingOptions, "validate", lambda self: self)
    server = recorder.server
    with pytest.raises(ConsoleError) as refused:
        await recorder.start(room, StartOptions(recording=RecordingOptions(
            advanced=Advanced(width=1281, height=720, fps=30))))
    reason = str(refused.value)
    assert "width" in reason
    assert await server.recording_status(room) is RecordingStatus.FAILED
    metadata = (await server.get_room(room) or api.Room()).metadata
    assert json.loads(metadata)["recordingError"] == reason  # egress's words, to everyone
    assert await listener.locks.owner(room) is None  # the next start may come at once
    assert await _live(server, room) == []
    found = await server.get_room(room)
    assert found is not None
    assert await listener.catalog.list_recordings(found.sid) == []  # nothing half-written
    await _record(recorder, room, RecordingOptions(content=Content.AUDIO_ONLY))


async def _play(url: str) -> float:
    """Play in QMediaPlayer until frames arrive; the duration in s. Qt's events are
    handled between polls: the listener serving the segments runs on this loop."""
    player, sink = QMediaPlayer(), QVideoSink()
    player.setVideoSink(sink)
    frames: list[int] = []
    sink.videoFrameChanged.connect(lambda frame: frames.append(frame.startTime()))
    player.setSource(QUrl(url))
    player.play()

    def playing() -> bool:
        QApplication.processEvents()
        return player.position() > 1000 and len(frames) > 5

    try:
        await eventually(playing, True, within=30)
        assert player.error() is QMediaPlayer.Error.NoError, player.errorString()
        return player.duration() / 1000
    finally:
        player.stop()
