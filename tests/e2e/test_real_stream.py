"""Live streams, recorded for real: the dev stack's egress streams a room of bots over RTMP
to the dev stack's MediaMTX while it writes the MP4, and the stream is read back.

What MediaMTX received is asked of its API (who publishes, which tracks) and read as any
viewer would, over RTMP with PyAV: an H.264 picture that moves and AAC sound, decoded.
The MP4 beside it is stored and listed as any recording. One egress stack and one
MediaMTX serve them all (``egress_stack``, ``rtmp_server``); run them one at a time.
"""

from __future__ import annotations

import asyncio
import asyncio.subprocess
import io
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import av
import numpy as np
import pytest
import pytest_asyncio
from livekit import api

from recconsole.cli_record import EXIT_NOT_RECORDING
from recconsole.core.livekit_server import LiveKitServer
from recconsole.core.recorder import Recorder, StartOptions
from recconsole.core.recording_info import MetadataState, RecordingInfo
from recconsole.core.recording_options import RecordingOptions
from recconsole.core.recording_status import RecordingStatus
from recconsole.server.listener import WebhookListener
from recconsole.storage.catalog import RecordingsCatalog
from recconsole_devtools.bot import BotOptions, PublisherBot, start_bots
from recconsole_devtools.devstack import API_KEY, API_SECRET, StackConfig
from tests.helpers.record_cli import record_cli
from tests.helpers.rooms import TEST_APP, unique_room
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]
S = api.EgressStatus
RECORD_FOR = 5.0  # seconds of ACTIVE recording before Stop
SMALL = BotOptions(width=320, height=180, fps=15)
PUBLISHED = ["H264", "MPEG-4 Audio"]  # the tracks MediaMTX names for egress's stream
ENDED = (S.EGRESS_COMPLETE, S.EGRESS_FAILED, S.EGRESS_ABORTED, S.EGRESS_LIMIT_REACHED)


@pytest_asyncio.fixture
async def room(egress_stack: StackConfig) -> AsyncIterator[str]:
    """A room this app created, with two publisher bots in it."""
    name = unique_room("stream")
    async with LiveKitServer(egress_stack.livekit_url, API_KEY, API_SECRET,
                             app_name=TEST_APP) as s:
        await s.ensure_room(name)
    bots: list[PublisherBot] = await start_bots(egress_stack.livekit_url, API_KEY, API_SECRET,
                                                name, 2, SMALL)
    yield name
    await asyncio.gather(*(bot.stop() for bot in bots))


# --- what MediaMTX received ---------------------------------------------------------


async def _path(cfg: StackConfig, path: str) -> dict[str, Any] | None:
    """MediaMTX's state of one path (its API), None when nobody publishes there."""
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as session, \
            session.get(f"{cfg.mediamtx_api_url}/v3/paths/get/{path}") as resp:
        if resp.status == 404:
            return None
        resp.raise_for_status()
        found: dict[str, Any] = await resp.json()
        return found


async def _published_tracks(cfg: StackConfig, path: str) -> list[str]:
    """The tracks of the stream published on ``path`` once it is ready to read, else []."""
    found = await _path(cfg, path)
    if found is None or not found["ready"]:
        return []
    assert found["source"]["type"] == "rtmpConn"  # egress publishing over RTMP
    return list(found["tracks"])


@dataclass(frozen=True)
class Received:
    """What a viewer read from a live stream."""

    video_codec: str
    audio_codec: str
    size: tuple[int, int]
    video_frames: int
    audio_frames: int
    picture_moved: bool


def _watch(url: str, frames: int = 30) -> Received:
    """Play ``url`` as a viewer would (PyAV, RTMP) until ``frames`` pictures and as many
    sound frames are decoded. Blocking: network reads time out after 15 s each."""
    with av.open(url, timeout=(15.0, 15.0)) as container:
        assert len(container.streams.video) == 1, container.streams
        assert len(container.streams.audio) == 1, container.streams
        video, audio = container.streams.video[0], container.streams.audio[0]
        pictures: list[np.ndarray[Any, Any]] = []
        sounds = 0
        for packet in container.demux(video, audio):
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    pictures.append(frame.to_ndarray(format="gray"))
                else:
                    sounds += 1
            if len(pictures) >= frames and sounds >= frames:
                break
        assert pictures, "no picture decoded"
        first = pictures[0]
        return Received(
            video_codec=video.codec_context.name, audio_codec=audio.codec_context.name,
            size=(first.shape[1], first.shape[0]), video_frames=len(pictures),
            audio_frames=sounds,
            picture_moved=any(not np.array_equal(first, p) for p in pictures[1:]))


# --- recordings ----------------------------------------------------------------------


async def _live(server: LiveKitServer, room: str) -> list[api.EgressInfo]:
    return [e for e in await server.list_egress(room, active=True)
            if e.status in (S.EGRESS_STARTING, S.EGRESS_ACTIVE)]


async def _active_count(server: LiveKitServer, room: str) -> int:
    return sum(e.status == S.EGRESS_ACTIVE for e in await _live(server, room))


async def _listed(catalog: RecordingsCatalog, server: LiveKitServer,
                  room: str) -> RecordingInfo:
    """The room's one recording, once it is listed with its metadata."""
    found = await server.get_room(room)
    assert found is not None

    async def complete() -> int:
        return sum(r.duration > 0 for r in await catalog.list_recordings(found.sid))

    await eventually(complete, 1, within=60)
    [info] = await catalog.list_recordings(found.sid)
    return info


def _file_streams(data: bytes) -> tuple[int, int]:
    """(audio streams, video streams) of a recorded file."""
    with av.open(io.BytesIO(data)) as container:
        return len(container.streams.audio), len(container.streams.video)


async def _ended(server: LiveKitServer, room: str) -> api.EgressInfo:
    """The room's one egress, once it has ended (past ENDING)."""

    async def ended() -> bool:
        return all(e.status in ENDED for e in await server.list_egress(room, active=False))

    await eventually(ended, True, within=60)
    [info] = await server.list_egress(room, active=False)
    return info


async def test_a_recording_streams_the_room_live_and_stores_the_mp4(
    recorder: Recorder, listener: WebhookListener, room: str, rtmp_server: StackConfig,
) -> None:
    path = f"live/{room}"
    url = f"{rtmp_server.rtmp_url}/{path}"
    assert await _path(rtmp_server, path) is None  # nobody publishes there yet
    await recorder.start(room, StartOptions(recording=RecordingOptions(streams=(url,))))
    await eventually(lambda: _active_count(recorder.server, room), 1, within=60)
    since = time.monotonic()
    await eventually(lambda: _published_tracks(rtmp_server, path), PUBLISHED, within=30)

    received = await asyncio.wait_for(asyncio.to_thread(_watch, url), 90)
    assert (received.video_codec, received.audio_codec) == ("h264", "aac")
    assert received.size == (1280, 720)  # egress's default encoding
    assert received.video_frames >= 30
    assert received.audio_frames >= 30
    assert received.picture_moved  # the bots' moving pattern, live

    await eventually(lambda: time.monotonic() - since >= RECORD_FOR, True, within=30)
    await recorder.stop(room)
    ended = await _ended(recorder.server, room)
    assert ended.status == S.EGRESS_COMPLETE, ended.error
    [stream] = ended.stream_results
    assert stream.status == api.StreamInfo.FINISHED, stream.error
    await eventually(lambda: _path(rtmp_server, path), None, within=30)  # publisher gone

    info = await _listed(listener.catalog, recorder.server, room)
    assert info.name.endswith(".mp4")
    assert info.extra["options"] == {"streams": 1}  # how many, never the URL
    assert url not in json.dumps(info.extra)
    data = await listener.catalog.store.read_bytes(listener.catalog.recording_key(info.name))
    assert _file_streams(data) == (1, 1)
    assert info.duration >= RECORD_FOR - 1
    assert await recorder.server.recording_status(room) is RecordingStatus.STOPPED


async def test_a_script_streams_a_recording_and_stops_it(
    egress_stack: StackConfig, rtmp_server: StackConfig, room: str,
) -> None:
    cfg = egress_stack
    path = f"live/{room}-cli"
    url = f"{rtmp_server.rtmp_url}/{path}"
    code, started, err = await record_cli(cfg, "start", room, "--stream", url)
    assert code == 0, err
    assert started["options"]["streams"] == [url]
    [egress] = started["egresses"]

    await eventually(lambda: _published_tracks(rtmp_server, path), PUBLISHED, within=60)
    received = await asyncio.wait_for(asyncio.to_thread(_watch, url, 10), 90)
    assert (received.video_codec, received.audio_codec) == ("h264", "aac")

    code, stopped, err = await record_cli(cfg, "stop", room)
    assert code == 0, err
    assert stopped["egress"]["egressId"] == egress["egressId"]

    async def status_code() -> int:
        return (await record_cli(cfg, "status", room))[0]

    await eventually(status_code, EXIT_NOT_RECORDING, within=60)
    await eventually(lambda: _path(rtmp_server, path), None, within=30)


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_stream_nobody_receives_fails_the_stream_or_the_recording_with_its_reason(
    recorder: Recorder, listener: WebhookListener, room: str,
) -> None:
    """Egress v1.8.6 drops a stream it cannot connect and records the file on, or, when
    taking the stream out of its pipeline fails (it sometimes does), fails as a whole:
    README's "as egress decides". Either way the room ends as the egress did, FAILED
    with egress's reason, the lock free, and a listed file is never an empty one. On a
    loaded machine egress may still be starting at the console's start timeout, which
    stops it: FAILED too, nothing listed."""
    url = f"rtmp://127.0.0.1:{_closed_port()}/live/{room}"
    server = recorder.server
    await recorder.start(room, StartOptions(recording=RecordingOptions(streams=(url,))))

    async def settled() -> bool:  # the stream failed and the egress is past STARTING
        [egress] = await server.list_egress(room, active=False)
        failed = [s.status for s in egress.stream_results] == [api.StreamInfo.FAILED]
        return failed and egress.status != S.EGRESS_STARTING

    await eventually(settled, True, within=90)
    [egress] = await server.list_egress(room, active=False)
    assert "Connection refused" in egress.stream_results[0].error
    if egress.status == S.EGRESS_ACTIVE:  # only the stream failed: the file goes on
        since = time.monotonic()  # a recording of some length
        await eventually(lambda: time.monotonic() - since >= RECORD_FOR, True, within=30)
        await recorder.stop(room)
    ended = await _ended(server, room)
    found = await server.get_room(room)
    assert found is not None
    if ended.status == S.EGRESS_COMPLETE:
        await eventually(lambda: server.recording_status(room), RecordingStatus.STOPPED,
                         within=30)
        info = await _listed(listener.catalog, server, room)
        assert "status" not in info.extra
        data = await listener.catalog.store.read_bytes(
            listener.catalog.recording_key(info.name))
        assert _file_streams(data) == (1, 1)
    elif ended.status == S.EGRESS_ABORTED:
        # A loaded machine: egress, having dropped the stream, was still STARTING when
        # the console's start timeout stopped it ("StopEgress API"): the console's FAILED.
        assert "StopEgress" in ended.details, ended
        await eventually(lambda: server.recording_status(room), RecordingStatus.FAILED,
                         within=30)
        # No recording is listed, with one exception seen at load: egress may upload its
        # empty file after its ended webhook (which the console's removal of empty files
        # then did not find): listed as what it is, an empty file the console wrote no
        # metadata for.
        for info in await listener.catalog.list_recordings(found.sid):
            assert (info.size, info.metadata) == (0, MetadataState.MISSING), info
    else:
        assert ended.status == S.EGRESS_FAILED, ended
        assert ended.error
        await eventually(lambda: server.recording_status(room), RecordingStatus.FAILED,
                         within=30)
        await eventually(lambda: _room_error(server, room), ended.error, within=30)
        for info in await listener.catalog.list_recordings(found.sid):
            assert info.extra["status"] == "FAILED"
            assert info.extra["error"] == ended.error
            assert info.size > 0
    await eventually(lambda: listener.locks.owner(room), None, within=30)


async def _room_error(server: LiveKitServer, room: str) -> str | None:
    found = await server.get_room(room)
    assert found is not None
    error = json.loads(found.metadata or "{}").get("recordingError")
    return error if isinstance(error, str) else None
